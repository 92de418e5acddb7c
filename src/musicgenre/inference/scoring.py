"""Scoring labelled tracks from stored segments: per-track scores and predictions.

Track-level predictions are the headline: a track's score is the mean of its segments'
log-probabilities (or an estimator's score of the track's summary, see models/spec.py).
Training (validation and calibration), the evaluate stage and cross-validation all score
through `score_tracks`, so there is one path from segments to a track's genre.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicgenre.core.metrics import mean_by_track
from musicgenre.inference.classifier import Classifier


def score_tracks(classifier: Classifier, x: np.ndarray, index: pd.DataFrame
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(track ids, true labels, track scores [tracks, classes], segment log-probs), tracks
    sorted by id. Pass original segments only: scoring never sees augmented copies."""
    index = index.reset_index(drop=True)
    segment_lp = classifier.segment_log_probs(x)
    groups = index.groupby("track_id", sort=True)
    if classifier.spec.averages_segments:
        track_lp = mean_by_track(segment_lp, index["track_id"]).to_numpy()
    else:  # the estimator scores a summary of the whole track, not its segments one by one
        track_lp = np.array([classifier.track_log_probs(x[part.index.to_numpy()])
                             for _, part in groups]).reshape(len(groups), len(classifier.genres))
    truth = groups["label"].first()  # sorted by track_id, like track_lp
    return truth.index.to_numpy(), truth.to_numpy(dtype=int), track_lp, segment_lp


def predict_tracks(classifier: Classifier, x: np.ndarray, index: pd.DataFrame
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per track (track_id, true_genre, predicted_genre, true, predicted, calibrated
    p_<genre>...) and the segment log-probabilities."""
    ids, truth, track_lp, segment_lp = score_tracks(classifier, x, index)
    genres = classifier.genres
    predicted = track_lp.argmax(axis=1)
    tracks = pd.DataFrame({"track_id": ids, "true_genre": [genres[i] for i in truth],
                           "predicted_genre": [genres[i] for i in predicted], "true": truth,
                           "predicted": predicted})
    proba = classifier.track_probabilities(track_lp)
    for g, column in zip(genres, proba.T, strict=True):
        tracks[f"p_{g}"] = column.astype(float)
    return tracks, segment_lp
