"""DVC stage `evaluate@<model>`: track- and segment-level test metrics and predictions."""

import argparse
from pathlib import Path

from musicgenre.core.stage import run_stage
from musicgenre.evaluation.evaluate import evaluate_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="models/<model>")
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="reports/eval/<model>")
    args = parser.parse_args()
    metrics = evaluate_split(args.checkpoint, args.features, args.out)
    if metrics["n_tracks"]:
        print(f"evaluate: {metrics['model']}: accuracy {metrics['accuracy']:.3f} "
              f"(95% CI {metrics['accuracy_ci95_low']:.3f}-{metrics['accuracy_ci95_high']:.3f}"
              f"), macro-F1 {metrics['macro_f1']:.3f} on {metrics['n_tracks']} test tracks")
    else:
        print(f"evaluate: {metrics['model']}: no test tracks (split.test = 0); score it on "
              "another folder with `musicgenre evaluate --data FOLDER`")


if __name__ == "__main__":
    run_stage("evaluate", main)
