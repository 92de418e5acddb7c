"""DVC stage `download`: fetch, copy or generate the audio into the normalised raw layout."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.download import build_raw
from musicgenre.stage import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="raw data directory")
    args = parser.parse_args()
    params = load_params("seed", "genres", "data")
    provenance = build_raw(params["data"], params["genres"], params["seed"], args.out)
    print(f"download: {provenance['n_tracks']} tracks from source '{provenance['source']}' "
          f"-> {args.out}")


if __name__ == "__main__":
    run_stage("download", main)
