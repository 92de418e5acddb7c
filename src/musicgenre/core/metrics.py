"""Scores from predictions: the ground floor every evaluation in the project stands on.

Nothing here knows about models or files: arrays of labels, predictions and log-probabilities
in, numbers out. The evaluate and robustness stages, crossval, training's validation and the
CLI all score through these functions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

ECE_BINS = 10


def mean_by_track(segment_log_probs: np.ndarray, track_ids) -> pd.DataFrame:
    """A track's score: the mean of its segments' log-probabilities. One row per track id
    (sorted), one column per class."""
    frame = pd.DataFrame(segment_log_probs, index=np.asarray(track_ids))
    return frame.groupby(level=0, sort=True).mean()


def track_accuracy(segment_log_probs: np.ndarray, index: pd.DataFrame) -> float:
    """Accuracy of the tracks in `index` (track_id, label per segment row), each scored by
    its mean segment log-probabilities."""
    scores = mean_by_track(segment_log_probs, index["track_id"])
    truth = index.groupby("track_id")["label"].first().loc[scores.index]
    return float((scores.to_numpy().argmax(axis=1) == truth.to_numpy()).mean())


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
    """Accuracy with its 95% interval, balanced accuracy, macro and per-genre P/R/F1,
    confusion matrix."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    labels = list(range(len(genres)))
    n = len(y_true)
    if n == 0:  # e.g. split.test = 0: nothing to score here (evaluate elsewhere)
        return {"n_tracks": 0, "accuracy": None, "accuracy_ci95_low": None,
                "accuracy_ci95_high": None, "balanced_accuracy": None, "macro_precision": None,
                "macro_recall": None, "macro_f1": None,
                "per_genre": {g: {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
                              for g in genres},
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
        # the mean of per-genre recalls (= macro recall, scikit-learn's definition): what
        # accuracy means when genres are unbalanced, as in FMA medium and large
        "balanced_accuracy": float(r[present].mean()) if present.any() else math.nan,
        "macro_precision": float(p[present].mean()) if present.any() else math.nan,
        "macro_recall": float(r[present].mean()) if present.any() else math.nan,
        "macro_f1": float(f[present].mean()) if present.any() else math.nan,
        "per_genre": {g: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(support[i])} for i, g in enumerate(genres)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray,
                               bins: int = ECE_BINS) -> float | None:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by tracks."""
    table = reliability_table(proba, labels, bins)
    if table.empty:
        return None
    weights = table["tracks"] / table["tracks"].sum()
    return float((weights * (table["accuracy"] - table["confidence"]).abs()).sum())


def most_confused(metrics: dict, genres: list[str], top: int = 5) -> list[dict]:
    """Off-diagonal confusion counts, largest first."""
    cm = np.asarray(metrics["confusion_matrix"])
    pairs = [{"true": genres[i], "predicted": genres[j], "tracks": int(cm[i, j])}
             for i in range(len(genres)) for j in range(len(genres)) if i != j and cm[i, j]]
    return sorted(pairs, key=lambda p: (-p["tracks"], p["true"], p["predicted"]))[:top]


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact McNemar p-value of two classifiers on the same items: a two-sided binomial test
    on the discordant items (`only_a`: items only the first gets right); 1.0 with none."""
    from scipy.stats import binomtest

    return float(binomtest(only_a, only_a + only_b).pvalue) if only_a + only_b else 1.0


def top_k_accuracy(proba: np.ndarray, truth: np.ndarray, k: int = 2) -> float | None:
    """Share of items whose true class is among the k most probable (None with no items)."""
    proba, truth = np.asarray(proba), np.asarray(truth, dtype=int)
    if len(truth) == 0:
        return None
    top = np.argsort(-proba, axis=1)[:, :k]
    return float((top == truth[:, None]).any(axis=1).mean())


def reliability_table(proba: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS):
    """Per equal-width confidence bin with tracks in it: the bin's edges, its tracks' mean top
    probability and their accuracy (a reliability diagram's points; ECE is their weighted
    gap)."""
    import pandas as pd

    proba, labels = np.asarray(proba, dtype=np.float64), np.asarray(labels, dtype=int)
    columns = ["bin_low", "bin_high", "confidence", "accuracy", "tracks"]
    if len(labels) == 0:
        return pd.DataFrame(columns=columns)
    confidence, right = proba.max(axis=1), proba.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = [(edges[b], edges[b + 1], float(confidence[which == b].mean()),
             float(right[which == b].mean()), int((which == b).sum()))
            for b in range(bins) if (which == b).any()]
    return pd.DataFrame(rows, columns=columns)
