"""Robustness of a trained model (the seed study's question 4): test tracks under the
conditions of `robustness` (noise, pitch, tempo, MP3, reverb, telephone band, a low sample
rate, a quieter level), each scored from its audio exactly as predict scores a file, on one
worker process per core, and compared with the clean tracks pair by pair (exact McNemar).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.atomic import write_json
from musicgenre.core.metrics import classification_metrics
from musicgenre.core.parallel import OrderedPool, resolve_workers
from musicgenre.data.audio import load_audio
from musicgenre.evaluation.config import RobustnessConfig
from musicgenre.features.augment import track_seed
from musicgenre.features.extract import fit_length
from musicgenre.inference.predict import track_scores_from_audio


def _seeded(transform):
    """An audiomentations transform as a (samples, sample_rate) function."""
    return lambda x, sr: transform(samples=x, sample_rate=sr)


def _telephone(x: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    high = min(3400.0, 0.45 * sr)
    return sosfilt(butter(4, [300.0, high], btype="bandpass", fs=sr, output="sos"),
                   x).astype(np.float32)


def _resampled(rate: int):
    import soxr

    return lambda x, sr: soxr.resample(soxr.resample(x, sr, rate), rate, sr).astype(np.float32)


def _reverb(room: float):
    from pedalboard import Pedalboard, Reverb

    board = Pedalboard([Reverb(room_size=room, damping=0.5, wet_level=0.33, dry_level=0.7)])
    return lambda x, sr: board(x.astype(np.float32), sr, reset=True)


def _tempo(percent: float):
    import librosa

    return lambda x, sr: librosa.effects.time_stretch(x, rate=1 + percent / 100.0)


def perturbations(cfg: RobustnessConfig) -> dict:
    """Condition name -> function (samples, sample_rate) -> samples (None: clean)."""
    from audiomentations import AddGaussianSNR, Mp3Compression, PitchShift

    conditions = {"clean": None}
    for snr in cfg.snr_db:
        conditions[f"noise {snr:g} dB SNR"] = _seeded(
            AddGaussianSNR(min_snr_db=snr, max_snr_db=snr, p=1.0))
    for st in cfg.pitch_semitones:
        conditions[f"pitch {st:+g} st"] = _seeded(
            PitchShift(min_semitones=st, max_semitones=st, p=1.0))
    for percent in cfg.tempo_percent:
        conditions[f"tempo {percent:+g}%"] = _tempo(percent)
    for kbps in cfg.mp3_kbps:
        conditions[f"mp3 {kbps:g} kbit/s"] = _seeded(
            Mp3Compression(min_bitrate=int(kbps), max_bitrate=int(kbps), p=1.0))
    for room in cfg.reverb_room:
        conditions[f"reverb room {room:g}"] = _reverb(room)
    if cfg.telephone:
        conditions["telephone 300-3400 Hz"] = _telephone
    for rate in cfg.resample_hz:
        conditions[f"resampled {rate / 1000:g} kHz"] = _resampled(rate)
    for gain in cfg.gain_db:
        conditions[f"gain {gain:+g} dB"] = lambda x, sr, g=gain: (x * 10 ** (g / 20)).astype(
            np.float32)
    return conditions


# Each worker's model, conditions and seed (set up once per worker process).
_STATE: dict = {}


def _setup(model_path: str, cfg: RobustnessConfig, seed: int) -> None:
    from musicgenre.inference.checkpoint import load_classifier

    use_classifier(load_classifier(Path(model_path)), cfg, seed)


def use_classifier(classifier, cfg: RobustnessConfig, seed: int) -> None:
    """Score conditions with this classifier in this process (crossval's folds)."""
    _STATE.update(classifier=classifier, conditions=perturbations(cfg), seed=seed)


def predict_conditions(job: tuple[str, str]) -> list[int]:
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
            varied = transform(audio, cfg.sample_rate)
        predicted.append(int(np.argmax(track_scores_from_audio(classifier, [varied]))))
    return predicted


def robustness_table(model_path: Path, genres: list[str], tracks: pd.DataFrame,
                     cfg: RobustnessConfig, seed: int, workers: int = 0,
                     progress: bool = True) -> pd.DataFrame:
    """Accuracy and macro-F1 per condition of the model saved at `model_path`, each paired
    with the clean condition on the same tracks; `tracks` has id, genre and path columns.
    Tracks are spread over `workers` processes (0: one per core); random conditions are
    seeded per track and condition, so the result does not depend on them.

    Why seven parameters: what is scored (model, genres, tracks), under what (the
    `robustness` params and seed) and how (workers, progress), each the caller's choice.
    """
    names = list(perturbations(cfg))
    jobs = [(str(p), t) for p, t in zip(tracks["path"], tracks["id"], strict=True)]
    with OrderedPool(resolve_workers(workers, len(jobs)), _setup,
                     (str(model_path), cfg, seed), _STATE.clear) as pool:
        labels = list(pool.map(predict_conditions, jobs, desc="robustness", progress=progress))
    truth = np.array([genres.index(g) for g in tracks["genre"]])
    return condition_table(names, np.array(labels).reshape(len(jobs), len(names)), truth,
                           genres)


def condition_table(names: list[str], predicted: np.ndarray, truth: np.ndarray,
                    genres: list[str]) -> pd.DataFrame:
    """One row per condition: accuracy, macro-F1, and against clean on the same tracks the
    tracks only clean got right, only this condition got right, and the exact McNemar p."""
    from musicgenre.core.metrics import mcnemar_exact

    clean = predicted[:, 0] == truth
    rows = []
    for k, name in enumerate(names):
        m = classification_metrics(truth, predicted[:, k], genres)
        right = predicted[:, k] == truth
        lost, gained = int((clean & ~right).sum()), int((right & ~clean).sum())
        rows.append({"condition": name, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "n_tracks": m["n_tracks"], "only_clean_right": lost,
                     "only_condition_right": gained,
                     "mcnemar_p": mcnemar_exact(lost, gained)})
    return pd.DataFrame(rows)


def run_robustness(model_dir: Path, manifest: pd.DataFrame, split: pd.DataFrame,
                   cfg: RobustnessConfig, seed: int, out: Path) -> pd.DataFrame:
    """The robustness stage: the saved model on the test tracks of `split` under every
    condition; writes `out` (JSON: the model and one record per condition)."""
    from musicgenre.inference.checkpoint import load_classifier

    classifier = load_classifier(model_dir)
    tracks = split[split["split"] == "test"].merge(manifest[["id", "path"]], on="id")
    table = robustness_table(model_dir, classifier.genres, tracks, cfg, seed)
    write_json(out, {"model": classifier.name, "conditions": table.to_dict("records")})
    return table
