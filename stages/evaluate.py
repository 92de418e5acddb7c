"""DVC stage `evaluate@<model>`: track- and segment-level test metrics and predictions."""

import argparse
import json
from pathlib import Path

from musicgenre.atomic import atomic_path, write_text_atomic
from musicgenre.evaluate import evaluate_classifier
from musicgenre.features import load_split
from musicgenre.inference import load_classifier
from musicgenre.stage import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="models/<model>")
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="reports/eval/<model>")
    args = parser.parse_args()
    classifier = load_classifier(args.checkpoint)
    x, index = load_split(args.features, "test", embeddings=classifier.uses_embeddings)
    metrics, predictions = evaluate_classifier(classifier, x, index)
    write_text_atomic(args.out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    with atomic_path(args.out / "predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    if metrics["n_tracks"]:
        print(f"evaluate: {classifier.name}: accuracy {metrics['accuracy']:.3f} "
              f"(95% CI {metrics['accuracy_ci95_low']:.3f}-{metrics['accuracy_ci95_high']:.3f}"
              f"), macro-F1 {metrics['macro_f1']:.3f} on {metrics['n_tracks']} test tracks")
    else:
        print(f"evaluate: {classifier.name}: no test tracks (split.test = 0); score it on "
              "another folder with `musicgenre evaluate --data FOLDER`")


if __name__ == "__main__":
    run_stage("evaluate", main)
