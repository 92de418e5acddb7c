"""DVC stage `train@<model>`: fit one model on the features; checkpoint + training curves."""

import argparse
from pathlib import Path

from musicgenre import models
from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.training.fit import train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=models.names(), required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory")
    parser.add_argument("--live", type=Path, required=True, help="training log directory")
    args = parser.parse_args()
    params = load_params("seed", "train", args.model)
    classifier = train_model(models.get(args.model), params, args.features, args.out,
                             args.live)
    summary = classifier.info["summary"]
    print(f"train: {args.model}: validation track accuracy {summary['val_track_accuracy']:.3f}"
          f" (segments {summary['val_accuracy']:.3f})")


if __name__ == "__main__":
    run_stage("train", main)
