"""DVC stage `robustness`: the headline model on noisy and pitch-shifted test tracks."""

import argparse
import json
from pathlib import Path

from musicgenre.atomic import write_text_atomic
from musicgenre.config import load_params
from musicgenre.inference import load_classifier
from musicgenre.robustness import robustness_table
from musicgenre.split import read_split
from musicgenre.stage import run_stage
from musicgenre.validate import read_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="models/<headline>")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="robustness JSON")
    args = parser.parse_args()
    params = load_params("seed", "robustness")
    classifier = load_classifier(args.checkpoint)
    split = read_split(args.split)
    tracks = split[split["split"] == "test"].merge(read_manifest(args.manifest)[["id", "path"]],
                                                   on="id")
    cfg = params["robustness"]
    table = robustness_table(args.checkpoint, classifier.genres, tracks, cfg.snr_db,
                             cfg.pitch_semitones, params["seed"])
    write_text_atomic(args.out, json.dumps({"model": classifier.name,
                                            "conditions": table.to_dict("records")},
                                           indent=2) + "\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run_stage("robustness", main)
