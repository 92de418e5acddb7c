"""DVC stage `split`: track-level train/val/test split of the validated manifest."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.data.split import make_split, split_protocol
from musicgenre.data.tables import read_manifest, write_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="split CSV (id, genre, split)")
    parser.add_argument("--counts", type=Path, required=True, help="per-genre count table CSV")
    parser.add_argument("--protocol", type=Path, required=True,
                        help="JSON: grouping, artists and duplicates shared between splits")
    args = parser.parse_args()
    params = load_params("seed", "split")
    table, counts = make_split(read_manifest(args.manifest), params["split"], params["seed"])
    protocol = split_protocol(table, params["split"], counts)
    write_split(table, counts, args.out, args.counts, protocol, args.protocol)
    print(counts.to_string(index=False))
    if counts.attrs["excluded"]:
        print(f"split: {counts.attrs['excluded']} track(s) not in the published split, excluded")
    print(f"split: grouped by {protocol['group_by']}; artists shared by train and test: "
          f"{protocol['artists_shared']['train-test']}")
    for note in protocol["notes"]:
        print(f"split: {note}")


if __name__ == "__main__":
    run_stage("split", main)
