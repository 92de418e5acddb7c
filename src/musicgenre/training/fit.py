"""The train stage: fit one model (any in the registry), save it, calibrate it.

`fit_model` reads the model's spec: a network is trained by the loop in loop.py, a
scikit-learn estimator is fitted in one step (estimator.py). Either way the model is saved as
a checkpoint (inference/checkpoint.py), its temperature is fitted on the validation tracks
(inference/calibration.py), and the fitted, calibrated `Classifier` is returned in memory:
exactly what loading the checkpoint gives, so callers (cross-validation) need not reload it.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from musicgenre.core.atomic import write_json
from musicgenre.core.versions import package_versions
from musicgenre.inference.calibration import calibration_summary
from musicgenre.inference.checkpoint import (
    CALIBRATION_FILE,
    classifier_from_header,
    network_from_state,
    save_model,
)
from musicgenre.inference.classifier import Classifier
from musicgenre.inference.scoring import score_tracks
from musicgenre.models.spec import ModelSpec
from musicgenre.training.data import TrainingData
from musicgenre.training.estimator import fit_estimator
from musicgenre.training.loop import train_neural

VERSIONED = ("torch", "librosa", "sklearn", "numpy")  # package versions a checkpoint records


def fit_model(spec: ModelSpec, params: dict, data: TrainingData, out_dir: Path,
              live_dir: Path, progress: bool = True, epochs: int | None = None) -> Classifier:
    """Fit `spec`'s model with `params` (seed, train and the model's own section, as
    load_params gives them), save it into `out_dir` with its training log in `live_dir`, and
    return it calibrated; its summary is `classifier.info["summary"]`. `epochs`: train a
    network for exactly that many epochs, the last one kept (a refit on training + validation
    tracks, where nothing is left to validate on).

    Why seven parameters: the model, its params and data, the two folders DVC declares as
    outputs, and two switches (progress, a fixed epoch count for refits).
    """
    if not spec.is_neural:
        class_weight = params["train"].class_weight if "train" in params else "none"
        return _fit_estimator(spec, params[spec.name], params["seed"], data, out_dir, live_dir,
                              class_weight)
    cfg = params["train"]
    if epochs is not None:
        # min_epochs = epochs: no earlier epoch can be picked and nothing stops sooner;
        # stop_val_loss 0: the validation tracks are trained on, so they would stop it early.
        cfg = replace(cfg, epochs=epochs, min_epochs=epochs, patience=epochs, stop_val_loss=0.0)
    return _fit_network(spec, params[spec.name], cfg, params["seed"], data, out_dir, live_dir,
                        progress)


def train_model(spec: ModelSpec, params: dict, features_dir: Path, out_dir: Path,
                live_dir: Path) -> Classifier:
    """The train stage: read the feature store's train/val splits (the segments' features,
    or their embeddings if the model reads those) and fit the model."""
    data = TrainingData.from_features_dir(features_dir, spec.uses_embeddings)
    return fit_model(spec, params, data, out_dir, live_dir)


def _fit_network(spec: ModelSpec, model_cfg, cfg, seed: int, data: TrainingData,
                 out_dir: Path, live_dir: Path, progress: bool) -> Classifier:
    """Train, then (first process only) save the checkpoint, the timing and the calibration.
    Why eight parameters: the network's fit needs its config, the training config and the seed
    beside the data and the two output folders, and passes the progress switch on."""
    trained = train_neural(spec, model_cfg, cfg, seed, data, live_dir, progress)
    header = {"format": 1, "model": spec.name, "config": asdict(model_cfg),
              **data.checkpoint_header(), "train": asdict(cfg), "seed": seed,
              "summary": trained.summary, "versions": package_versions(*VERSIONED),
              "device": trained.device}
    classifier = classifier_from_header(header, network_from_state(header, trained.state))
    if trained.rank:  # another DDP process: the first one writes the files
        return classifier
    save_model(spec, out_dir, {k: v for k, v in header.items() if k != "format"},
               trained.state)
    _write_timing(live_dir, spec.name, trained.epoch_seconds, device=trained.device)
    calibrate(classifier, data, out_dir)
    return classifier


def _fit_estimator(spec: ModelSpec, cfg, seed: int, data: TrainingData, out_dir: Path,
                   live_dir: Path, class_weight: str) -> Classifier:
    """Fit, save the estimator with its header and timing, and calibrate it.

    Why seven parameters: as `fit_model`, with the model's own section and the class
    weighting taken out of params."""
    estimator, summary, seconds = fit_estimator(spec, cfg, seed, data, class_weight)
    live_dir = Path(live_dir)
    write_json(live_dir / "metrics.json", {"best": summary})
    header = {"model": spec.name, "config": asdict(cfg), **data.checkpoint_header(),
              "seed": seed, "summary": summary, "versions": package_versions(*VERSIONED)}
    save_model(spec, out_dir, header, estimator)
    _write_timing(live_dir, spec.name, [seconds])
    classifier = classifier_from_header({"format": 2, **header}, estimator)
    calibrate(classifier, data, out_dir)
    return classifier


def calibrate(classifier: Classifier, data: TrainingData, model_dir: Path | None = None) -> dict:
    """Fit the classifier's temperature and probability threshold for unknown on the
    validation tracks (inference/calibration.py) and, for models that classify a track
    summary, its novelty test on the training tracks (inference/novelty.py); set them, and
    write them beside the checkpoint in `model_dir`, where loading finds them.

    Why seven parameters: as `fit_model`, with the model's own section and the class
    weighting taken out of params.
    """
    _, labels, scores, _ = score_tracks(classifier, np.asarray(data.x_val), data.idx_val)
    spec = classifier.spec
    summary = calibration_summary(scores, labels, novelty=spec.track_summary is not None)
    classifier.temperature = summary["temperature"]
    classifier.unknown_below = summary["unknown_below"]
    if spec.track_summary is not None:  # a track summary: also how unlike training it is
        from musicgenre.inference.novelty import Novelty
        from musicgenre.training.estimator import estimator_examples

        train, _ = estimator_examples(spec, np.asarray(data.x_train), data.idx_train)
        # one example per track version, in estimator_examples' (track_id, copy) order
        tracks = data.idx_train.groupby(["track_id", "copy"], sort=True).size().index
        log_odds = spec.uses_embeddings and classifier.features.embedding_layer == "taggram"
        classifier.novelty = Novelty.fit_with_threshold(
            train, tracks.get_level_values("track_id").to_numpy(), log_odds)
        summary["novelty"] = classifier.novelty.to_json()
    if model_dir is not None:
        write_json(Path(model_dir) / CALIBRATION_FILE, summary)
    return summary


def _write_timing(live_dir: Path, name: str, epoch_seconds: list[float],
                  device: str = "cpu") -> None:
    """Wall-clock times are kept apart from metrics: they differ between identical runs."""
    write_json(Path(live_dir) / "timing.json", {
        "model": name, "device": device, "epochs": len(epoch_seconds),
        "mean_epoch_seconds": round(float(np.mean(epoch_seconds)), 3),
        "total_seconds": round(float(np.sum(epoch_seconds)), 3)})
