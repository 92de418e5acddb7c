"""Robustness of a trained model (the seed study's question 4): test tracks with added
Gaussian noise at several SNRs and pitch-shifted by a few semitones, re-extracted with the
model's own feature parameters and scored like the clean ones, on one worker process per
core."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.atomic import write_json
from musicgenre.core.metrics import classification_metrics
from musicgenre.core.parallel import OrderedPool, resolve_workers
from musicgenre.data.audio import load_audio
from musicgenre.features.augment import track_seed
from musicgenre.features.extract import fit_length
from musicgenre.inference.predict import track_scores_from_audio


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


# Each worker's model, conditions and seed (set up once per worker process).
_STATE: dict = {}


def _setup(model_path: str, snr_db: list[float], semitones: list[float], seed: int) -> None:
    from musicgenre.inference.checkpoint import load_classifier

    _STATE.update(classifier=load_classifier(Path(model_path)),
                  conditions=perturbations(snr_db, semitones), seed=seed)


def _predict_conditions(job: tuple[str, str]) -> list[int]:
    """The predicted label of one track under every condition, in the conditions' order."""
    import random

    path, track_id = job
    classifier, seed = _STATE["classifier"], _STATE["seed"]
    cfg = classifier.features
    audio, _ = load_audio(path, cfg.sample_rate)
    audio, _ = fit_length(audio, cfg)
    predicted = []
    for k, transform in enumerate(_STATE["conditions"].values()):
        varied = audio
        if transform is not None:
            s = track_seed(seed, track_id, 1000 + k)  # fixed noise per track and condition
            random.seed(s)
            np.random.seed(s)
            varied = transform(samples=audio, sample_rate=cfg.sample_rate)
        predicted.append(int(np.argmax(track_scores_from_audio(classifier, [varied]))))
    return predicted


def robustness_table(model_path: Path, genres: list[str], tracks: pd.DataFrame,
                     snr_db: list[float], semitones: list[float], seed: int, workers: int = 0,
                     progress: bool = True) -> pd.DataFrame:
    """Accuracy and macro-F1 per condition of the model saved at `model_path`; `tracks` has
    id, genre and path columns. Tracks are spread over `workers` processes (0: one per core);
    the noise is seeded per track and condition, so the result does not depend on them.

    Why eight parameters: the conditions (SNRs, semitones) and their seed are the
    `robustness` params, the rest say what is scored and where; passed by name from the
    stage.
    """
    names = list(perturbations(snr_db, semitones))
    truth = [genres.index(g) for g in tracks["genre"]]
    jobs = [(str(p), t) for p, t in zip(tracks["path"], tracks["id"], strict=True)]
    predicted: dict[str, list[int]] = {name: [] for name in names}
    with OrderedPool(resolve_workers(workers, len(jobs)), _setup,
                     (str(model_path), snr_db, semitones, seed), _STATE.clear) as pool:
        for labels in pool.map(_predict_conditions, jobs, desc="robustness",
                               progress=progress):
            for name, label in zip(names, labels, strict=True):
                predicted[name].append(label)
    rows = []
    for name, pred in predicted.items():
        m = classification_metrics(np.array(truth), np.array(pred), genres)
        rows.append({"condition": name, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "n_tracks": m["n_tracks"]})
    return pd.DataFrame(rows)


def run_robustness(model_dir: Path, manifest: pd.DataFrame, split: pd.DataFrame, snr_db:
                   list[float], semitones: list[float], seed: int, out: Path) -> pd.DataFrame:
    """The robustness stage: the saved model on the test tracks of `split` under every
    condition; writes `out` (JSON: the model and one record per condition).

    Why seven parameters: the stage's three input tables and output path, plus the
    `robustness` params and seed.
    """
    from musicgenre.inference.checkpoint import load_classifier

    classifier = load_classifier(model_dir)
    tracks = split[split["split"] == "test"].merge(manifest[["id", "path"]], on="id")
    table = robustness_table(model_dir, classifier.genres, tracks, snr_db, semitones, seed)
    write_json(out, {"model": classifier.name, "conditions": table.to_dict("records")})
    return table
