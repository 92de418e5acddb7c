"""Which training rows an epoch visits, and how much each genre weighs."""

from __future__ import annotations

import numpy as np
import pandas as pd


class CropSampler:
    """Which training rows an epoch visits: random segments ("crops") of every track version.

    Each epoch draws `crops` random segments of every track version (with replacement), and
    more of each when that would give fewer than `min_crops` in all: on a few dozen tracks an
    epoch of one crop per version is a handful of steps, too few to validate after or to
    average weights over. Drawing a fixed number per track version makes an epoch's cost grow
    with tracks, not with how many overlapping segments a track has (19 for a 30-s track),
    and each epoch sees other parts of every track. crops = 0: every segment once (a sweep).
    """

    def __init__(self, index: pd.DataFrame, crops: int, min_crops: int = 0) -> None:
        codes = index.groupby(["track_id", "copy"], sort=True).ngroup().to_numpy()
        self.order = np.argsort(codes, kind="stable")  # rows grouped by track version
        self.counts = np.bincount(codes)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        versions = max(len(self.counts), 1)
        self.crops = max(crops, -(-min_crops // versions)) if crops else 0
        self.n_rows = len(codes)

    def __len__(self) -> int:
        return self.crops * len(self.counts) if self.crops else self.n_rows

    def epoch(self, rng: np.random.Generator) -> np.ndarray:
        """Row numbers for one epoch, shuffled."""
        if not self.crops:
            return rng.permutation(self.n_rows)
        offsets = (rng.random((len(self.counts), self.crops)) * self.counts[:, None]).astype(int)
        rows = self.order[(self.starts[:, None] + offsets).ravel()]
        return rows[rng.permutation(len(rows))]


def class_weights(index: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Balanced class weights from the training tracks (not segments or augmented copies):
    n_tracks / (n_classes * tracks of the genre), as scikit-learn's 'balanced' computes them;
    a genre without training tracks gets 1."""
    labels = index.groupby("track_id")["label"].first().to_numpy()
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights
