"""Track probabilities that mean what they say: temperature scaling and calibration error.

A track's score is the mean of its segments' log-probabilities. Turned straight into a
softmax it is far too sharp (predict printed `rock 1.00, metal 0.00` for most files), because
the segments of one track are not independent votes. One temperature T, fitted on the
validation tracks by minimising their negative log-likelihood (Guo et al., ICML 2017), gives
softmax(score / T): the ranking, and so every accuracy, is unchanged; only the confidence is.
"""

from __future__ import annotations

import numpy as np

from musicgenre.core.metrics import expected_calibration_error


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def negative_log_likelihood(scores: np.ndarray, labels: np.ndarray,
                            temperature: float = 1.0) -> float:
    p = softmax(scores, temperature)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


MIN_TEMPERATURE = 1.0  # soften only: see fit_temperature
MAX_TEMPERATURE = 100.0


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The T in [1, 100] minimising the NLL of softmax(scores / T) (1.0 with no tracks).

    T is never below 1: the problem being corrected is over-sharp track scores, and a few
    validation tracks that are all right would otherwise drive T to any lower bound, making
    every probability 1.00 (docs/results.md has the case that showed it)."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(lambda log_t: negative_log_likelihood(scores, labels,
                                                                   float(np.exp(log_t))),
                             bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)),
                             method="bounded",
                             options={"xatol": 1e-4})
    # the bounded search never tries the bounds themselves, where the optimum often is
    # (T = 1 when every validation track is right)
    candidates = (float(np.exp(result.x)), MIN_TEMPERATURE, MAX_TEMPERATURE)
    return min(candidates, key=lambda t: negative_log_likelihood(scores, labels, t))


# The share of real in-genre validation tracks that the unknown threshold may turn away.
UNKNOWN_FALSE_REJECT = 0.05


def unknown_threshold(proba: np.ndarray, false_reject: float = UNKNOWN_FALSE_REJECT) -> float:
    """The calibrated top probability below which a track is called `unknown`: the
    `false_reject` quantile of the validation tracks' top probabilities (so about that share
    of real music of the model's genres is turned away), 0 with no tracks. Audio that is no
    music of these genres (noise, tones, speech) tends to spread its probability and fall
    below it; how well that works is measured, not assumed (docs/results.md)."""
    if len(proba) == 0:
        return 0.0
    return float(np.quantile(np.asarray(proba).max(axis=1), false_reject, method="lower"))


def calibration_summary(scores: np.ndarray, labels: np.ndarray, novelty: bool = False) -> dict:
    """Fit T on these (validation) tracks, choose the unknown threshold on them, and say what
    it changed there. With `novelty` (a second test, inference/novelty.py) the probability
    threshold gets half the false-reject budget."""
    labels = np.asarray(labels, dtype=int)
    t = fit_temperature(scores, labels)
    budget = UNKNOWN_FALSE_REJECT / 2 if novelty else UNKNOWN_FALSE_REJECT
    threshold = unknown_threshold(softmax(scores, t), budget) if len(labels) else 0.0
    return {"temperature": round(t, 6), "fitted_on": "validation tracks",
            "unknown_below": round(threshold, 6),
            "unknown_false_reject_target": UNKNOWN_FALSE_REJECT,
            "tracks": int(len(labels)),
            "nll_before": negative_log_likelihood(scores, labels) if len(labels) else None,
            "nll_after": negative_log_likelihood(scores, labels, t) if len(labels) else None,
            "ece_before": expected_calibration_error(softmax(scores), labels),
            "ece_after": expected_calibration_error(softmax(scores, t), labels)}
