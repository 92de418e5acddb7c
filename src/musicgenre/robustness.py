"""Robustness of a trained model (the seed study's question 4): test tracks with added
Gaussian noise at several SNRs and pitch-shifted by a few semitones, re-extracted with the
model's own feature parameters and scored like the clean ones."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from musicgenre.audio import load_audio
from musicgenre.augment import track_seed
from musicgenre.evaluate import classification_metrics
from musicgenre.features import fit_length
from musicgenre.inference import Classifier


def perturbations(snr_db: list[float], semitones: list[float]) -> dict:
    """Condition name -> audiomentations transform (None: clean)."""
    from audiomentations import AddGaussianSNR, PitchShift

    conditions = {"clean": None}
    for snr in snr_db:
        conditions[f"noise {snr:g} dB SNR"] = AddGaussianSNR(min_snr_db=snr, max_snr_db=snr,
                                                             p=1.0)
    for st in semitones:
        conditions[f"pitch {st:+g} st"] = PitchShift(min_semitones=st, max_semitones=st, p=1.0)
    return conditions


def robustness_table(classifier: Classifier, tracks: pd.DataFrame, snr_db: list[float],
                     semitones: list[float], seed: int, progress: bool = True) -> pd.DataFrame:
    """Accuracy and macro-F1 per condition; `tracks` has id, genre and path columns."""
    import random

    cfg = classifier.features
    conditions = perturbations(snr_db, semitones)
    truth = [classifier.genres.index(g) for g in tracks["genre"]]
    predicted: dict[str, list[int]] = {name: [] for name in conditions}
    for row in tqdm(tracks.itertuples(), total=len(tracks), desc="robustness", unit="track",
                    disable=not progress, file=sys.stderr):
        audio, _ = load_audio(row.path, cfg.sample_rate)
        audio, _ = fit_length(audio, cfg)
        for k, (name, transform) in enumerate(conditions.items()):
            varied = audio
            if transform is not None:
                s = track_seed(seed, row.id, 1000 + k)  # fixed noise per track and condition
                random.seed(s)
                np.random.seed(s)
                varied = transform(samples=audio, sample_rate=cfg.sample_rate)
            lp = classifier.track_log_probs(classifier.inputs_from_audio(varied))
            predicted[name].append(int(np.argmax(lp)))
    rows = []
    for name, pred in predicted.items():
        m = classification_metrics(np.array(truth), np.array(pred), classifier.genres)
        rows.append({"condition": name, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "n_tracks": m["n_tracks"]})
    return pd.DataFrame(rows)
