"""Prediction on audio files: one file, or many on a pool of worker processes.

The CLI's `predict` and `evaluate --data`, and the robustness stage go through here; every
file is decoded, checked (too short, silent, unreadable: one line naming the file) and scored
by a `Classifier` exactly as the pipeline scores its test tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgenre.core.errors import MusicGenreError
from musicgenre.inference.checkpoint import load_classifier
from musicgenre.inference.classifier import Classifier


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given (whatever their name, so bad ones get reported) and audio in folders."""
    from musicgenre.data.audio import find_audio

    found = []
    for path in paths:
        path = Path(path)
        found += find_audio(path) if path.is_dir() else [path]
    return found


@dataclass
class TrackPrediction:
    """What a classifier says about one file or clip."""

    proba: np.ndarray  # calibrated probability of each of the classifier's genres
    label: str  # the genre, or UNKNOWN (Classifier.label)
    novelty: float | None = None  # distance from the training tracks (inference/novelty.py)


def classify_file(classifier: Classifier, path: Path) -> TrackPrediction:
    """Genre probabilities for one audio file; AudioError names the file if it is unusable
    (unreadable, shorter than MIN_AUDIO_S, NaN/Inf samples, or silent: silence has no genre,
    and a model would still name one with confidence). A file longer than audio.MAX_WHOLE_S
    is judged on evenly spaced excerpts (audio.load_excerpts), so memory and time stay
    bounded; one shorter than a segment is repeated to fill it."""
    from musicgenre.core.errors import AudioError
    from musicgenre.data.audio import SILENCE_DBFS, load_excerpts, rms_dbfs
    from musicgenre.data.config import MIN_AUDIO_S

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    cfg = classifier.features
    excerpts = load_excerpts(path, cfg.sample_rate)
    length = sum(len(e) for e in excerpts)
    # a hair under the floor passes: a 1.000-s clip resampled may lose a sample
    if length < MIN_AUDIO_S * cfg.sample_rate - 2:
        raise AudioError(f"{path}: too short ({length / cfg.sample_rate:.2f} s); at least "
                         f"{MIN_AUDIO_S:g} s of audio is needed")
    level = rms_dbfs(np.concatenate(excerpts))
    if level < SILENCE_DBFS:
        raise AudioError(f"{path}: silent or nearly (RMS {level:.1f} dBFS, below "
                         f"{SILENCE_DBFS:g}); not classified")
    return predict_audio(classifier, excerpts)


def predict_audio(classifier: Classifier, excerpts: list[np.ndarray]) -> TrackPrediction:
    """Calibrated probabilities and the label (a genre or unknown) of decoded audio."""
    inputs = _inputs(classifier, excerpts)
    proba = classifier.track_probabilities(classifier.track_log_probs(inputs)[None])[0]
    distance = classifier.novelty_distance(inputs)
    return TrackPrediction(proba, classifier.label(proba, distance), distance)


def _inputs(classifier: Classifier, excerpts: list[np.ndarray]) -> np.ndarray:
    """Each excerpt is segmented on its own, so no segment spans the cut between two
    excerpts; an excerpt shorter than one segment is repeated to fill it."""
    from musicgenre.features.extract import fill_segment

    cfg = classifier.features
    return np.concatenate([classifier.inputs_from_audio(fill_segment(e, cfg))
                           for e in excerpts if len(e)])


def track_scores_from_audio(classifier: Classifier, excerpts: list[np.ndarray]) -> np.ndarray:
    """A track's scores from its decoded audio (at the classifier's sample rate): the one path
    from a signal to a track's genre, for `predict`, `evaluate --data` and robustness."""
    return classifier.track_log_probs(_inputs(classifier, excerpts))


# The classifier of each worker process of `classify_files` (loaded once per worker).
_LOADED: dict = {}


def _load_for_worker(model_path: str, device: str) -> None:
    _LOADED["classifier"] = load_classifier(Path(model_path)).to(device)
    if _LOADED["classifier"].uses_embeddings:  # load the network once, not per file
        from musicgenre.features.musicnn import load_musicnn

        for network in _LOADED["classifier"].features.embedding_networks:
            load_musicnn(network)


def _classify_job(path: str) -> tuple[str, TrackPrediction | None, str | None]:
    try:
        return path, classify_file(_LOADED["classifier"], Path(path)), None
    except MusicGenreError as exc:
        return path, None, str(exc)


def classify_files(model_path: Path, paths: list[Path], workers: int = 0,
                   device: str = "cpu", progress: bool = True):
    """Yield (path, TrackPrediction or None, error or None) per file, in order.

    On the CPU the files are decoded and classified by `workers` processes (0: one per core),
    each with one thread and its own copy of the model, loaded once; on a GPU by this process.
    """
    from musicgenre.core.devices import resolve_device
    from musicgenre.core.parallel import OrderedPool, resolve_workers

    if resolve_device(device) != "cpu":
        workers = 1  # one process feeds the GPU (CUDA does not survive a fork)
    with OrderedPool(resolve_workers(workers, len(paths)), _load_for_worker,
                     (str(model_path), device), _LOADED.clear) as pool:
        yield from pool.map(_classify_job, [str(p) for p in paths], desc="classify",
                            unit="file", progress=progress)
