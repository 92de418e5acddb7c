"""Scoring a trained model: track- and segment-level metrics, confusion, robustness.

Track-level predictions average the segment log-probabilities of each track (the baseline
classifies a track's summary statistics directly); segment-level scores are reported for
comparison with the literature, where they are often (wrongly) the headline.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from musicgenre.calibration import expected_calibration_error
from musicgenre.inference import Classifier, track_scores


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (well-behaved for small n and extremes)."""
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At 0% or 100% the bound is exactly 0 or 1; rounding would put it just inside
    # (6/6 gave 0.9999999999999999, below the accuracy: a negative error bar).
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == n else min(1.0, centre + half)
    return (low, high)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                           genres: list[str]) -> dict:
    """Accuracy with its 95% interval, macro and per-genre P/R/F1, confusion matrix."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    labels = list(range(len(genres)))
    n = len(y_true)
    if n == 0:  # e.g. split.test = 0: nothing to score here (evaluate elsewhere)
        return {"n_tracks": 0, "accuracy": None, "accuracy_ci95_low": None,
                "accuracy_ci95_high": None, "macro_precision": None, "macro_recall": None,
                "macro_f1": None, "per_genre": {g: {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                                    "support": 0} for g in genres},
                "confusion_matrix": np.zeros((len(genres),) * 2, dtype=int).tolist()}
    correct = int((y_true == y_pred).sum())
    low, high = wilson_interval(correct, n)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                       zero_division=0)
    present = support > 0  # macro over the genres that occur in the truth
    return {
        "n_tracks": n,
        "accuracy": correct / n if n else math.nan,
        "accuracy_ci95_low": low,
        "accuracy_ci95_high": high,
        "macro_precision": float(p[present].mean()) if present.any() else math.nan,
        "macro_recall": float(r[present].mean()) if present.any() else math.nan,
        "macro_f1": float(f[present].mean()) if present.any() else math.nan,
        "per_genre": {g: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(support[i])} for i, g in enumerate(genres)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def track_log_scores(classifier: Classifier, x: np.ndarray, index: pd.DataFrame
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(track ids, true labels, track scores [tracks, classes], segment log-probs), tracks
    sorted by id. Original segments only: scoring never sees augmented copies."""
    index = index.reset_index(drop=True)
    segment_lp = classifier.segment_log_probs(x)
    groups = index.groupby("track_id", sort=True)
    if classifier.averages_segments:
        track_lp = track_scores(segment_lp, index).to_numpy()
    else:  # the baseline scores a track's statistics, not its segments one by one
        track_lp = np.array([classifier.track_log_probs(x[part.index.to_numpy()])
                             for _, part in groups]).reshape(len(groups), len(classifier.genres))
    truth = groups["label"].first()  # sorted by track_id, like track_lp
    return truth.index.to_numpy(), truth.to_numpy(dtype=int), track_lp, segment_lp


def predict_tracks(classifier: Classifier, x: np.ndarray, index: pd.DataFrame
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-track predictions (track_id, true, predicted, calibrated p_<genre>...) and the
    segment log-probabilities."""
    ids, truth, track_lp, segment_lp = track_log_scores(classifier, x, index)
    proba = classifier.track_probabilities(track_lp)
    tracks = pd.DataFrame({"track_id": ids, "true": truth, "predicted": track_lp.argmax(axis=1)})
    for g, column in zip(classifier.genres, proba.T, strict=True):
        tracks[f"p_{g}"] = column.astype(float)
    return tracks, segment_lp


def evaluate_classifier(classifier: Classifier, x: np.ndarray, index: pd.DataFrame) -> tuple[
        dict, pd.DataFrame]:
    """Track-level metrics (the headline) plus segment-level accuracy and macro-F1."""
    index = index.reset_index(drop=True)
    tracks, segment_lp = predict_tracks(classifier, x, index)
    metrics = {"model": classifier.name,
               **classification_metrics(tracks["true"], tracks["predicted"], classifier.genres)}
    proba = tracks[[f"p_{g}" for g in classifier.genres]].to_numpy()
    metrics["temperature"] = classifier.temperature
    metrics["ece"] = expected_calibration_error(proba, tracks["true"].to_numpy())
    if len(index):
        seg = classification_metrics(index["label"], segment_lp.argmax(axis=1),
                                     classifier.genres)
        metrics["segment_accuracy"] = seg["accuracy"]
        metrics["segment_macro_f1"] = seg["macro_f1"]
        metrics["n_segments"] = int(len(index))
    return metrics, with_genre_names(tracks, classifier.genres)


def with_genre_names(tracks: pd.DataFrame, genres: list[str]) -> pd.DataFrame:
    """predict_tracks' table with true_genre and predicted_genre beside track_id."""
    tracks = tracks.copy()
    tracks.insert(1, "true_genre", [genres[i] for i in tracks["true"]])
    tracks.insert(2, "predicted_genre", [genres[i] for i in tracks["predicted"]])
    return tracks


def most_confused(metrics: dict, genres: list[str], top: int = 5) -> list[dict]:
    """Off-diagonal confusion counts, largest first."""
    cm = np.asarray(metrics["confusion_matrix"])
    pairs = [{"true": genres[i], "predicted": genres[j], "tracks": int(cm[i, j])}
             for i in range(len(genres)) for j in range(len(genres)) if i != j and cm[i, j]]
    return sorted(pairs, key=lambda p: (-p["tracks"], p["true"], p["predicted"]))[:top]
