"""Checkpoint files: a trained model on disk, saved by training and loaded anywhere.

A checkpoint carries everything needed to classify audio: the model's name and config, the
feature parameters, the training-split normalisation statistics and the genre names. How it
is stored follows from the model's spec: networks as a torch state dict, scikit-learn
estimators with skops (no pickle); the temperature fitted on the validation tracks sits beside
it in calibration.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre import models
from musicgenre.core.atomic import atomic_path, write_json
from musicgenre.core.errors import MusicGenreError
from musicgenre.core.parsing import parse
from musicgenre.features.config import FeaturesConfig
from musicgenre.inference.classifier import Classifier
from musicgenre.models.spec import ModelSpec

NEURAL_FILE = "model.pt"  # torch state dict + header, loaded with weights_only=True
SKLEARN_FILE = "model.skops"  # scikit-learn pipeline in skops' format (no pickle)
SKLEARN_HEADER = "model.json"  # what a scikit-learn checkpoint carries besides the pipeline
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")  # loading these could run any code
CALIBRATION_FILE = "calibration.json"  # the temperature fitted on the validation tracks


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


def checkpoint_file(path: Path) -> Path:
    """The checkpoint file of `models/<name>/` (or `path` itself if it is a file); a pickle
    file found there is returned so that loading can refuse it by name."""
    path = Path(path)
    if not path.is_dir():
        return path
    candidates = [path / NEURAL_FILE, path / SKLEARN_FILE]
    pickles = sorted(p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    found = next((c for c in candidates if c.exists()), None)
    return found or (pickles[0] if pickles else candidates[0])


def load_classifier(path: Path) -> Classifier:
    """Load `models/<name>/` (or the checkpoint file inside it) in any process.

    Nothing is unpickled: neural checkpoints load with torch's weights_only, scikit-learn
    models from skops files limited to safe types, and pickle files are refused."""
    path = checkpoint_file(path)
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
            model = network_from_state(payload, payload["state_dict"])
    except MusicGenreError as exc:
        if str(path) in str(exc):  # already names the file
            raise
        raise MusicGenreError(f"{path}: not a usable checkpoint ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure is "not usable"
        # (torch and skops raise many types: UnpicklingError, zipfile.BadZipFile,
        # TypeError on a mangled schema...); the message names the file either way.
        reason = " ".join(str(exc).split())[:200]
        raise MusicGenreError(f"{path}: not a usable checkpoint ({reason})") from None
    info = {k: v for k, v in payload.items() if k not in ("state_dict", "pipeline")}
    try:
        classifier = classifier_from_header(info, model)
    except MusicGenreError as exc:
        raise MusicGenreError(f"{path}: not a usable checkpoint ({exc})") from None
    (classifier.temperature, classifier.unknown_below,
     classifier.novelty) = read_calibration(path.parent)
    return classifier


def network_from_state(header: dict, state_dict: dict):
    """The header's network (spec, config, input and output sizes) holding these weights, in
    evaluation mode: what training hands on in memory and what loading a model.pt gives."""
    spec = models.get(header["model"])
    cfg = parse(spec.config, header["config"], header["model"])
    network = spec.network(cfg, len(header["mean"]), header["segment_frames"],
                           len(header["genres"]))
    network.load_state_dict(state_dict)
    return network.eval()


def classifier_from_header(header: dict, model: Any) -> Classifier:
    """A Classifier from a checkpoint's header (model name, genres, feature params,
    normalisation statistics) and its fitted model (a network or an estimator); its
    temperature is 1 until calibration sets it."""
    spec = models.get(header["model"])
    features = parse(FeaturesConfig, header["features"], "features")
    width = getattr(model, "n_features_in_", None)  # a fitted scikit-learn pipeline's input
    if spec.uses_embeddings and width is not None and width != features.embedding_dim:
        raise MusicGenreError(
            f"the {spec.name} model reads {width}-wide embeddings but its features header "
            f"({features.embedding}, {features.embedding_layer}) gives "
            f"{features.embedding_dim}; a checkpoint of an earlier version? retrain it "
            f"with `dvc repro`")
    return Classifier(spec, list(header["genres"]), features,
                      np.asarray(header["mean"], dtype=np.float32),
                      np.asarray(header["std"], dtype=np.float32), model, dict(header))


def read_calibration(model_dir: Path) -> tuple[float, float, Any]:
    """(temperature, unknown threshold, novelty test) from `model_dir/calibration.json`; a
    model without the file (or calibrated before a field existed) gets 1.0, 0.0 (never
    unknown) and None (no novelty test)."""
    from musicgenre.inference.novelty import Novelty

    calibration = Path(model_dir) / CALIBRATION_FILE
    if not calibration.exists():
        return 1.0, 0.0, None
    try:
        data = json.loads(calibration.read_text())
        temperature = float(data["temperature"])
        unknown_below = float(data.get("unknown_below", 0.0))
        novelty = None if data.get("novelty") is None else Novelty.from_json(data["novelty"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MusicGenreError(f"{calibration}: not a usable calibration file "
                              f"({' '.join(str(exc).split())[:100]})") from None
    if not 0 < temperature < float("inf"):
        raise MusicGenreError(f"{calibration}: temperature must be > 0, got {temperature}")
    if not 0.0 <= unknown_below <= 1.0:
        raise MusicGenreError(f"{calibration}: unknown_below must be in [0, 1], "
                              f"got {unknown_below}")
    return temperature, unknown_below, novelty
