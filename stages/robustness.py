"""DVC stage `robustness`: the headline model on degraded test tracks (params: robustness)."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.data.tables import read_manifest, read_split
from musicgenre.evaluation.robustness import run_robustness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="models/<headline>")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="robustness JSON")
    args = parser.parse_args()
    params = load_params("seed", "robustness")
    table = run_robustness(args.checkpoint, read_manifest(args.manifest), read_split(args.split),
                           params["robustness"], params["seed"], args.out)
    print(table.to_string(index=False))


if __name__ == "__main__":
    run_stage("robustness", main)
