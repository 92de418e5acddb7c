"""Scoring a trained model on labelled tracks: the feature store's test split (the evaluate
stage, crossval) or any labelled folder of audio (`musicgenre evaluate`).

Track-level predictions are the headline: a track's score is the mean of its segments'
log-probabilities (or an estimator's score of the track's summary, see models/spec.py).
Segment-level scores are reported for comparison with the literature, where they are often
(wrongly) the headline. Numbers come from musicgenre.core.metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.atomic import atomic_path, write_json
from musicgenre.core.errors import MusicGenreError
from musicgenre.core.metrics import (
    classification_metrics,
    expected_calibration_error,
    reliability_table,
    top_k_accuracy,
)
from musicgenre.features.store import load_split
from musicgenre.inference.checkpoint import load_classifier
from musicgenre.inference.classifier import UNKNOWN, Classifier
from musicgenre.inference.scoring import predict_tracks


def evaluate_classifier(classifier: Classifier, x: np.ndarray, index: pd.DataFrame) -> tuple[
        dict, pd.DataFrame]:
    """Track-level metrics (the headline) plus segment-level accuracy and macro-F1, and the
    per-track predictions."""
    index = index.reset_index(drop=True)
    tracks, segment_lp = predict_tracks(classifier, x, index)
    metrics = {"model": classifier.name,
               **classification_metrics(tracks["true"], tracks["predicted"], classifier.genres)}
    proba = tracks[[f"p_{g}" for g in classifier.genres]].to_numpy()
    metrics["temperature"] = classifier.temperature
    metrics["ece"] = expected_calibration_error(proba, tracks["true"].to_numpy())
    metrics["top2_accuracy"] = top_k_accuracy(proba, tracks["true"].to_numpy(), 2)
    metrics.update(unknown_rates(classifier, proba, tracks["true"].to_numpy()))
    if len(index):
        seg = classification_metrics(index["label"], segment_lp.argmax(axis=1),
                                     classifier.genres)
        metrics["segment_accuracy"] = seg["accuracy"]
        metrics["segment_macro_f1"] = seg["macro_f1"]
        metrics["n_segments"] = int(len(index))
    return metrics, tracks


# The numbers a DVC user compares between experiments: each model's `metrics.json` (a DVC
# metric at a stable path) holds these only, so `dvc exp show` and `dvc metrics diff` get a
# few columns per model; per-genre scores and the confusion matrix are in `evaluation.json`.
METRIC_KEYS = ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high", "top2_accuracy",
               "balanced_accuracy",
               "macro_f1", "macro_precision", "macro_recall", "segment_accuracy",
               "segment_macro_f1", "ece", "unknown_rate", "accuracy_with_unknown", "n_tracks")


def compact_metrics(evaluation: dict) -> dict:
    """The METRIC_KEYS of a full evaluation (None where a key does not apply)."""
    return {k: evaluation.get(k) for k in METRIC_KEYS}


def evaluate_split(model_dir: Path, features_dir: Path, out_dir: Path,
                   split: str = "test") -> dict:
    """The evaluate stage: score the saved model on one split of the feature store and write
    `metrics.json` (the compact DVC metrics), `evaluation.json` (everything, with per-genre
    scores and the confusion matrix) and `predictions.csv` into `out_dir`; returns the full
    evaluation."""
    classifier = load_classifier(model_dir)
    x, index = load_split(features_dir, split, embeddings=classifier.uses_embeddings)
    metrics, predictions = evaluate_classifier(classifier, x, index)
    write_json(Path(out_dir) / "evaluation.json", metrics)
    write_json(Path(out_dir) / "metrics.json", compact_metrics(metrics))
    # the data of the DVC plots (dvc.yaml): recall per genre, reliability diagram
    per_genre = pd.DataFrame([{"genre": g, **{k: v[k] for k in ("precision", "recall", "f1",
                                                                  "support")}}
                              for g, v in metrics["per_genre"].items()])
    proba = predictions[[f"p_{g}" for g in classifier.genres]].to_numpy()  # (0 rows: no
    # test split; predict_tracks still gives the columns)
    reliability = reliability_table(proba, predictions["true"].to_numpy())
    for name, table in (("per_genre.csv", per_genre), ("reliability.csv", reliability)):
        with atomic_path(Path(out_dir) / name) as tmp:
            table.to_csv(tmp, index=False)
    with atomic_path(Path(out_dir) / "predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    return metrics


def evaluate_folder(model_path: Path, data: Path, workers: int = 0, device: str = "cpu",
                    progress: bool = False,
                    report: Callable[[str, str], None] = lambda kind, line: None) -> dict:
    """Score a saved model on a labelled `<genre>/<audio file>` folder (a cross-dataset check).

    Files that are not `<genre>/<audio file>` are listed under "skipped"; unusable files and
    genres the model does not know under "errors" (each also passed to `report` as it is
    found, with kind "skipped" or "error"). Only the usable files are scored.
    """
    from musicgenre.data.audio import find_labelled_audio
    from musicgenre.data.genres import slug
    from musicgenre.inference.predict import classify_files

    classifier = load_classifier(model_path)
    data = Path(data)
    if not data.is_dir():
        raise MusicGenreError(f"{data}: not a directory of <genre>/<file> audio")
    files, skipped = find_labelled_audio(data)
    for line in skipped:
        report("skipped", line)
    if not files:
        raise MusicGenreError(f"{data}: no audio files in <genre>/ folders")
    errors, known_files = [], []
    for path in files:
        genre = slug(path.parent.name)  # as the download stage names genres: Hip-Hop -> hip-hop
        if genre in classifier.genres:
            known_files.append(path)
            continue
        errors.append(f"{path}: genre folder '{genre}' is not one the model knows "
                      f"({', '.join(classifier.genres)})")
        report("error", errors[-1])
    truth, probas, known, per_file = [], [], [], []
    for path, prediction, error in classify_files(model_path, known_files, workers, device,
                                                  progress):
        if error:
            errors.append(error)
            report("error", error)
            continue
        truth.append(classifier.genres.index(slug(Path(path).parent.name)))
        probas.append(prediction.proba)
        known.append(prediction.label != UNKNOWN)
        best = int(np.argmax(prediction.proba))
        per_file.append({"path": str(path), "true_genre": classifier.genres[truth[-1]],
                         "predicted_genre": classifier.genres[best],
                         "probability": round(float(prediction.proba[best]), 4),
                         "label": prediction.label})  # the genre, or unknown
    truth = np.array(truth, dtype=int)
    probas = np.array(probas).reshape(len(truth), len(classifier.genres))
    return {"model": classifier.name, "data": str(data),
            **classification_metrics(truth, probas.argmax(axis=1), classifier.genres),
            **unknown_rates(classifier, probas, truth, np.array(known, dtype=bool)),
            "predictions": per_file, "errors": errors, "skipped": skipped}


def unknown_rates(classifier: Classifier, proba: np.ndarray, truth: np.ndarray,
                  known: np.ndarray | None = None) -> dict:
    """How `unknown` treats these real, labelled tracks: the share turned away (false
    rejects: they are all music of the model's genres) and the accuracy when an unknown
    counts as wrong; `known` is each track's verdict (default: the probability threshold
    alone). `accuracy` itself stays the closed-set figure."""
    if len(truth) == 0:
        return {"unknown_below": classifier.unknown_below, "unknown_rate": 0.0,
                "accuracy_with_unknown": 0.0}
    if known is None:
        known = proba.max(axis=1) >= classifier.unknown_below
    right = proba.argmax(axis=1) == truth
    return {"unknown_below": classifier.unknown_below,
            "unknown_rate": float(1 - known.mean()),
            "accuracy_with_unknown": float((right & known).mean())}
