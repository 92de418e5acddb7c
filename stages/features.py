"""DVC stage `features`: segment feature arrays per split, augmentation on train only."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.data import genres
from musicgenre.data.tables import read_manifest, read_split
from musicgenre.features.build import extract_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True,
                        help="the download stage's source.json (genres: auto reads it)")
    parser.add_argument("--out", type=Path, required=True, help="features directory")
    args = parser.parse_args()
    params = load_params("seed", "genres", "features", "augment", "cluster")
    meta = extract_features(read_manifest(args.manifest), read_split(args.split),
                            genres.read(params["genres"], args.source), params["features"],
                            params["augment"], params["seed"], args.out,
                            cluster_address=params["cluster"].address)
    for name, counts in meta["splits"].items():
        print(f"features: {name}: {counts['tracks']} tracks, {counts['segments']} segments "
              f"({counts['augmented_segments']} augmented)")
    for tid in meta["padded_short"]:
        how = "repeated" if params["features"].short_track == "tile" else "padded with silence"
        print(f"features: {tid}: shorter than one segment, {how} to fill it")
    for tid in meta["dropped_short"]:
        print(f"features: {tid}: shorter than one segment, dropped (features.short_track=drop)")
    for bad in meta["unreadable"]:
        print(f"features: skipped unreadable track: {bad['error']}")


if __name__ == "__main__":
    run_stage("features", main)
