"""DVC stage `train@<model>`: fit one model on the features; checkpoint + training curves."""

import argparse
from pathlib import Path

from musicgenre.config import EMBEDDING_MODELS, MODELS, load_params
from musicgenre.stage import run_stage
from musicgenre.train import ONE_STEP_FITS, TrainingData, train_neural


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=MODELS, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory")
    parser.add_argument("--live", type=Path, required=True, help="training log directory")
    args = parser.parse_args()
    data = TrainingData.from_features_dir(args.features, args.model in EMBEDDING_MODELS)
    if args.model in ONE_STEP_FITS:
        params = load_params("seed", args.model)
        summary = ONE_STEP_FITS[args.model](params[args.model], params["seed"], data, args.out,
                                            args.live)
    else:
        params = load_params("seed", "train", args.model)
        summary = train_neural(args.model, params[args.model], params["train"], params["seed"],
                               data, args.out, args.live)
    print(f"train: {args.model}: validation track accuracy {summary['val_track_accuracy']:.3f}"
          f" (segments {summary['val_accuracy']:.3f})")


if __name__ == "__main__":
    run_stage("train", main)
