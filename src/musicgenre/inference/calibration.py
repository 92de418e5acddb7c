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


def calibration_summary(scores: np.ndarray, labels: np.ndarray) -> dict:
    """Fit T on these (validation) tracks and say what it changed there."""
    labels = np.asarray(labels, dtype=int)
    t = fit_temperature(scores, labels)
    return {"temperature": round(t, 6), "fitted_on": "validation tracks",
            "tracks": int(len(labels)),
            "nll_before": negative_log_likelihood(scores, labels) if len(labels) else None,
            "nll_after": negative_log_likelihood(scores, labels, t) if len(labels) else None,
            "ece_before": expected_calibration_error(softmax(scores), labels),
            "ece_after": expected_calibration_error(softmax(scores, t), labels)}
