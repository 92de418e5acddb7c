"""Is this music like the music the model was trained on? A distance that says when not.

A genre classifier spreads its probability over the genres it knows, whatever it hears: a
pure tone or a hum can come out as "classical 0.9". For models that classify a summary of
the whole track (the transfer model's mean taggram, the baseline's feature statistics) the
summary itself shows when a track is unlike every training track: its Mahalanobis distance
from the training tracks' summaries (covariance shrunk by Ledoit-Wolf, since there are about
as many dimensions as tracks). Tag probabilities are compared as log-odds, where "almost
never" and "never" are far apart.

The distance above which a track is `unknown` comes from held-out distances, never from
the training tracks' own (small, since the covariance was fitted on them): the training
tracks are split into folds (a track's augmented copies stay together), each fold's
distances are measured from a fit on the others, and the threshold is the largest of them:
no real training track, heard as new, would be called unknown. That uses every training
track instead of the dozen validation tracks, whose top quantile would be one track's
distance. How it treats real test tracks, short clips and non-music is measured in
docs/results.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Novelty:
    center: np.ndarray  # per-dimension mean and scale of the training summaries
    scale: np.ndarray
    precision: np.ndarray  # inverse of their shrunk covariance (after scaling)
    log_odds: bool  # summaries are probabilities: compare them as log-odds
    above: float = float("inf")  # a distance over this is unknown (set on validation)

    @classmethod
    def fit(cls, summaries: np.ndarray, log_odds: bool) -> Novelty:
        from sklearn.covariance import LedoitWolf

        x = _transform(np.asarray(summaries, dtype=np.float64), log_odds)
        center, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        covariance = LedoitWolf().fit((x - center) / scale)
        return cls(center, scale, covariance.precision_, log_odds)

    @classmethod
    def fit_with_threshold(cls, summaries: np.ndarray, groups: np.ndarray, log_odds: bool,
                           folds: int = 5) -> Novelty:
        """Fit on all summaries; `above` = the largest cross-fitted distance (see above)."""
        from sklearn.model_selection import GroupKFold

        summaries = np.asarray(summaries)
        novelty = cls.fit(summaries, log_odds)
        folds = min(folds, len(np.unique(groups)))
        if folds < 2:
            return novelty
        held_out = np.zeros(len(summaries))
        for fit_rows, out_rows in GroupKFold(n_splits=folds).split(summaries, groups=groups):
            held_out[out_rows] = cls.fit(summaries[fit_rows], log_odds).distance(
                summaries[out_rows])
        novelty.above = float(held_out.max())
        return novelty

    def distance(self, summaries: np.ndarray) -> np.ndarray:
        """[n, d] track summaries -> [n] Mahalanobis distances (not squared)."""
        z = (_transform(np.atleast_2d(summaries).astype(np.float64), self.log_odds)
             - self.center) / self.scale
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.precision, z), 0.0))

    def to_json(self) -> dict:
        return {"center": self.center.tolist(), "scale": self.scale.tolist(),
                "precision": self.precision.tolist(), "log_odds": self.log_odds,
                "above": self.above}

    @classmethod
    def from_json(cls, data: dict) -> Novelty:
        return cls(np.asarray(data["center"]), np.asarray(data["scale"]),
                   np.asarray(data["precision"]), bool(data["log_odds"]), float(data["above"]))


def _transform(x: np.ndarray, log_odds: bool) -> np.ndarray:
    if not log_odds:
        return x
    p = np.clip(x, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
