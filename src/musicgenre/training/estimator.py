"""Fitting a scikit-learn model (the baseline, the transfer probe) in one step."""

from __future__ import annotations

import time

import numpy as np

from musicgenre.inference.classifier import Classifier
from musicgenre.inference.scoring import score_tracks
from musicgenre.models.spec import ModelSpec
from musicgenre.training.data import TrainingData


def estimator_examples(spec: ModelSpec, x: np.ndarray, index) -> tuple[np.ndarray, np.ndarray]:
    """What the estimator is fitted on: one example per track version (the summary of its
    segments, with spec.track_summary) or one per segment."""
    if spec.track_summary is None:
        return np.asarray(x), index["label"].to_numpy()
    groups = index.groupby(["track_id", "copy"], sort=True)
    stats = np.stack([spec.track_summary(x[rows.to_numpy()]) for _, rows in groups["row"]])
    return stats, groups["label"].first().to_numpy()


def fit_estimator(spec: ModelSpec, cfg, seed: int, data: TrainingData,
                  class_weight: str = "none") -> tuple[object, dict, float]:
    """(fitted estimator, summary with validation accuracies and parameter count, seconds)."""
    start = time.perf_counter()
    estimator = spec.estimator(cfg, seed)
    if class_weight == "balanced":  # every estimator in the registry takes class_weight
        estimator[-1].set_params(class_weight="balanced")
    estimator.fit(*estimator_examples(spec, data.x_train, data.idx_train))
    seconds = time.perf_counter() - start
    # scored as any classifier is; the feature front end is not needed for stored segments
    classifier = Classifier(spec, data.meta["genres"], None, None, None, estimator)
    _, labels, track_lp, seg_log_probs = score_tracks(classifier, data.x_val, data.idx_val)
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    summary = {"val_track_accuracy": round(float((track_lp.argmax(axis=1) == labels).mean()), 6),
               "val_accuracy": round(float((seg_log_probs.argmax(axis=1)
                                            == data.idx_val["label"].to_numpy()).mean()), 6),
               "parameters": int(sum(np.size(getattr(final, a, ()))
                                     for a in ("coef_", "intercept_", "dual_coef_")))}
    return estimator, summary, seconds
