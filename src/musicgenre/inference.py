"""Trained classifiers as predict and evaluate use them, independent of the pipeline.

A checkpoint carries everything needed to classify audio: the model's name and config, the
feature parameters, the training-split normalisation statistics and the genre names. How a
model reads segments, scores a track and is saved follows from its spec (musicgenre.models):
networks are saved as a torch state dict, scikit-learn estimators with skops; a track's score
is the mean of its segments' log-probabilities, or for estimators that classify a summary of
the whole track, that summary's log-probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre import models
from musicgenre.atomic import atomic_path, write_json
from musicgenre.config import FeaturesConfig
from musicgenre.errors import MusicGenreError
from musicgenre.features.store import normalize
from musicgenre.models.spec import ModelSpec
from musicgenre.parsing import parse

NEURAL_FILE = "model.pt"  # torch state dict + header, loaded with weights_only=True
SKLEARN_FILE = "model.skops"  # scikit-learn pipeline in skops' format (no pickle)
SKLEARN_HEADER = "model.json"  # what a scikit-learn checkpoint carries besides the pipeline
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")  # loading these could run any code
CALIBRATION_FILE = "calibration.json"  # the temperature fitted on the validation tracks


@dataclass
class Classifier:
    spec: ModelSpec
    genres: list[str]
    features: FeaturesConfig
    mean: np.ndarray
    std: np.ndarray
    model: Any  # a torch.nn.Module (spec.network) or a fitted scikit-learn estimator
    info: dict = field(default_factory=dict)
    device: str = "cpu"  # where the neural model and the embedding network run
    temperature: float = 1.0  # track probabilities = softmax(track score / temperature)

    def track_probabilities(self, track_scores: np.ndarray) -> np.ndarray:
        """Calibrated genre probabilities from track scores (mean segment log-probabilities,
        or an estimator's score of a track summary); the ranking does not change."""
        from musicgenre.calibration import softmax

        return softmax(track_scores, self.temperature)

    def to(self, device: str) -> Classifier:
        """Run the networks on `device` (auto | cpu | cuda | mps; see musicgenre.devices)."""
        from musicgenre.devices import resolve_device

        self.device = resolve_device(device)
        if self.is_neural:
            self.model.to(self.device)
        return self

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def uses_embeddings(self) -> bool:
        return self.spec.uses_embeddings

    @property
    def is_neural(self) -> bool:
        return self.spec.is_neural

    def inputs_from_audio(self, audio: np.ndarray) -> np.ndarray:
        """What this model reads for each segment of `audio` (at features.sample_rate)."""
        from musicgenre.features.extract import segment_embeddings, segments_from_audio

        if self.uses_embeddings:
            return segment_embeddings(audio, self.features, self.device)
        return segments_from_audio(audio, self.features)

    def segment_log_probs(self, segments: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """[n, rows, frames] raw features (or [n, dim] embeddings) -> [n, classes]
        log-probabilities."""
        if len(segments) == 0:
            return np.zeros((0, len(self.genres)), dtype=np.float32)
        if not self.is_neural:
            summary = self.spec.track_summary
            if summary is None:
                return self._estimator_log_probs(np.asarray(segments))
            # a segment alone, summarised as if it were a whole track
            return self._estimator_log_probs(np.stack([summary(s[None]) for s in segments]))
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(segments), batch_size):
                x = normalize(segments[start:start + batch_size], self.mean, self.std)
                logits = self.model(torch.from_numpy(x).to(self.device)).float()
                out.append(torch.log_softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(out)

    def track_log_probs(self, segments: np.ndarray) -> np.ndarray:
        """All segments of one track -> [classes] track-level log-probabilities."""
        if not self.spec.averages_segments:
            return self._estimator_log_probs(self.spec.track_summary(segments)[None])[0]
        return self.segment_log_probs(segments).mean(axis=0)

    def _estimator_log_probs(self, x: np.ndarray) -> np.ndarray:
        """predict_proba's columns follow the labels seen in training (`classes_`); put them
        in their genre's column, so a genre absent from training scores ~0 instead of
        shifting every later genre by one."""
        proba = np.zeros((len(x), len(self.genres)))
        proba[:, np.asarray(self.model.classes_, dtype=int)] = self.model.predict_proba(x)
        return np.log(np.clip(proba, 1e-12, 1.0))


def save_model(spec: ModelSpec, out_dir: Path, header: dict, model: Any) -> None:
    """Write a trained model into `out_dir`: a network (`model`: its state dict) as
    `model.pt` with `header` (format 1); a fitted estimator as `model.skops` (arrays and known
    types, no pickle) plus `model.json`, the header (genres, feature parameters, config,
    versions; format 2)."""
    out_dir = Path(out_dir)
    if spec.is_neural:
        import torch

        with atomic_path(out_dir / NEURAL_FILE) as tmp:
            torch.save({"format": 1, **header, "state_dict": model}, tmp)
        return
    import skops.io

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / SKLEARN_FILE) as tmp:
        skops.io.dump(model, tmp)
    write_json(out_dir / SKLEARN_HEADER, {"format": 2, **header})


def _load_sklearn(path: Path) -> tuple[dict, Any]:
    """Header and pipeline; types outside skops' safe defaults are refused, not loaded."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    if untrusted:
        raise MusicGenreError(f"{path}: holds types that are not known to be safe to load "
                              f"({', '.join(untrusted[:3])}); refusing to load it")
    pipeline = skops.io.load(path)
    header = json.loads((path.parent / SKLEARN_HEADER).read_text())
    return header, pipeline


def load_classifier(path: Path) -> Classifier:
    """Load `models/<name>/` (or the checkpoint file inside it) in any process.

    Nothing is unpickled: neural checkpoints load with torch's weights_only, scikit-learn
    models from skops files limited to safe types, and pickle files are refused."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / NEURAL_FILE, path / SKLEARN_FILE]
        pickles = sorted(p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        found = next((c for c in candidates if c.exists()), None)
        path = found or (pickles[0] if pickles else candidates[0])
    if path.suffix in PICKLE_SUFFIXES:
        raise MusicGenreError(f"{path}: a pickle file, which could run any code when loaded; "
                              f"refusing it (models are saved as {NEURAL_FILE} or "
                              f"{SKLEARN_FILE}; retrain with `dvc repro`)")
    if not path.exists():
        raise MusicGenreError(f"{path}: no trained model here; run `dvc repro` first")
    try:
        if path.suffix == ".skops":
            payload, model = _load_sklearn(path)
        else:
            import torch

            payload = torch.load(path, map_location="cpu", weights_only=True)
            spec = models.get(payload["model"])
            cfg = parse(spec.config, payload["config"], payload["model"])
            model = spec.network(cfg, len(payload["mean"]), payload["segment_frames"],
                                 len(payload["genres"]))
            model.load_state_dict(payload["state_dict"])
            model.eval()
    except MusicGenreError as exc:
        if str(path) in str(exc):  # already names the file
            raise
        raise MusicGenreError(f"{path}: not a usable checkpoint ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure is "not usable"
        # (torch and skops raise many types: UnpicklingError, zipfile.BadZipFile,
        # TypeError on a mangled schema...); the message names the file either way.
        reason = " ".join(str(exc).split())[:200]
        raise MusicGenreError(f"{path}: not a usable checkpoint ({reason})") from None
    try:
        spec = models.get(payload["model"])
        features = parse(FeaturesConfig, payload["features"], "features")
    except MusicGenreError as exc:
        raise MusicGenreError(f"{path}: not a usable checkpoint ({exc})") from None
    info = {k: v for k, v in payload.items() if k not in ("state_dict", "pipeline")}
    calibration = path.parent / CALIBRATION_FILE
    temperature = 1.0
    if calibration.exists():
        try:
            temperature = float(json.loads(calibration.read_text())["temperature"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MusicGenreError(f"{calibration}: not a usable calibration file "
                                  f"({' '.join(str(exc).split())[:100]})") from None
        if not 0 < temperature < float("inf"):
            raise MusicGenreError(f"{calibration}: temperature must be > 0, got {temperature}")
    return Classifier(spec, list(payload["genres"]), features,
                      np.asarray(payload["mean"], dtype=np.float32),
                      np.asarray(payload["std"], dtype=np.float32), model, info,
                      temperature=temperature)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given (whatever their name, so bad ones get reported) and audio in folders."""
    from musicgenre.audio import find_audio

    found = []
    for path in paths:
        path = Path(path)
        found += find_audio(path) if path.is_dir() else [path]
    return found


def classify_file(classifier: Classifier, path: Path) -> np.ndarray:
    """Genre probabilities for one audio file; AudioError names the file if it is unusable
    (unreadable, too short, NaN/Inf samples, or silent: silence has no genre, and a model
    would still name one with confidence). A file longer than audio.MAX_WHOLE_S is judged on
    evenly spaced excerpts (audio.load_excerpts), so memory and time stay bounded."""
    from musicgenre.audio import SILENCE_DBFS, load_excerpts, rms_dbfs
    from musicgenre.errors import AudioError
    from musicgenre.features.extract import min_samples

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    cfg = classifier.features
    excerpts = load_excerpts(path, cfg.sample_rate)
    length = sum(len(e) for e in excerpts)
    if max(len(e) for e in excerpts) < min_samples(cfg):
        raise AudioError(f"{path}: too short ({length / cfg.sample_rate:.2f} s); at least "
                         f"{min_samples(cfg) / cfg.sample_rate:.2f} s of audio is needed")
    level = rms_dbfs(np.concatenate(excerpts))
    if level < SILENCE_DBFS:
        raise AudioError(f"{path}: silent or nearly (RMS {level:.1f} dBFS, below "
                         f"{SILENCE_DBFS:g}); not classified")
    # each excerpt is segmented on its own: no segment spans the cut between two excerpts
    inputs = np.concatenate([classifier.inputs_from_audio(e) for e in excerpts
                             if len(e) >= min_samples(cfg)])
    return classifier.track_probabilities(classifier.track_log_probs(inputs))


# The classifier of each worker process of `classify_files` (loaded once per worker).
_LOADED: dict = {}


def _load_for_worker(model_path: str, device: str) -> None:
    _LOADED["classifier"] = load_classifier(Path(model_path)).to(device)
    if _LOADED["classifier"].uses_embeddings:  # load the network once, not per file
        from musicgenre.features.musicnn import load_musicnn

        load_musicnn(_LOADED["classifier"].features.embedding)


def _classify_job(path: str) -> tuple[str, np.ndarray | None, str | None]:
    try:
        return path, classify_file(_LOADED["classifier"], Path(path)), None
    except MusicGenreError as exc:
        return path, None, str(exc)


def classify_files(model_path: Path, paths: list[Path], workers: int = 0,
                   device: str = "cpu", progress: bool = True):
    """Yield (path, genre probabilities or None, error or None) per file, in order.

    On the CPU the files are decoded and classified by `workers` processes (0: one per core),
    each with one thread and its own copy of the model, loaded once; on a GPU by this process.
    """
    from musicgenre.devices import resolve_device
    from musicgenre.parallel import OrderedPool, resolve_workers

    if resolve_device(device) != "cpu":
        workers = 1  # one process feeds the GPU (CUDA does not survive a fork)
    with OrderedPool(resolve_workers(workers, len(paths)), _load_for_worker,
                     (str(model_path), device), _LOADED.clear) as pool:
        yield from pool.map(_classify_job, [str(p) for p in paths], desc="classify",
                            unit="file", progress=progress)
