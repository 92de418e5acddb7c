"""DVC stage `download`: fetch, copy or generate the audio into the normalised raw layout."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.data.download import build_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="raw data directory")
    args = parser.parse_args()
    params = load_params("seed", "genres", "data", "split")
    provenance = build_raw(params["data"], params["genres"], params["seed"], args.out,
                           split=params["split"])
    print(f"download: {provenance['n_tracks']} tracks from source '{provenance['source']}' "
          f"-> {args.out}")


if __name__ == "__main__":
    run_stage("download", main)
