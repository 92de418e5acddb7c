"""The train stage: fit one model (any in the registry) on the training split.

`fit_model` reads the model's spec: a network is trained by `train_neural`, the epoch loop
below, read top to bottom: Adam with weight decay, SpecAugment-style masks and mixup on
training batches, a moving average of the weights (what is validated and saved), early
stopping on validation loss with patience from min_epochs on, the best epoch's weights kept.
Every epoch's train/validation loss and accuracy are logged with dvclive for `dvc plots`.
A scikit-learn estimator is fitted in one step (`fit_estimator`). Seeded end to end, so the
same params give the same weights and metrics on CPU. Every model's temperature is then
fitted on the validation tracks (calibration.py).
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from musicgenre.atomic import write_json
from musicgenre.config import TrainConfig
from musicgenre.errors import MusicGenreError
from musicgenre.evaluate import score_tracks
from musicgenre.features.store import load_meta, load_split, normalize
from musicgenre.inference import CALIBRATION_FILE, Classifier, load_classifier, save_model
from musicgenre.metrics import track_accuracy
from musicgenre.models.spec import ModelSpec
from musicgenre.versions import package_versions

os.environ.setdefault("DVC_NO_ANALYTICS", "1")  # dvclive must not phone home from a stage


@dataclass
class TrainingData:
    """What a model is fitted on: raw train/val segments, their index, and feature metadata
    (genres, feature params, training-split normalisation statistics)."""

    x_train: np.ndarray
    idx_train: pd.DataFrame
    x_val: np.ndarray
    idx_val: pd.DataFrame
    meta: dict

    @classmethod
    def from_features_dir(cls, features_dir: Path, embeddings: bool = False) -> TrainingData:
        """The train/val segments' features, or with `embeddings` their pretrained embeddings."""
        x_train, idx_train = load_split(features_dir, "train", embeddings)
        x_val, idx_val = load_split(features_dir, "val", embeddings)
        if len(x_train) == 0 or len(x_val) == 0:
            raise MusicGenreError(f"{features_dir}: training and validation need segments")
        return cls(x_train, idx_train, x_val, idx_val, load_meta(features_dir))

    def checkpoint_header(self) -> dict:
        """The feature facts a checkpoint carries so that predict needs nothing else."""
        return {key: self.meta[key] for key in ("genres", "features", "mean", "std",
                                                 "segment_frames")}


def seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # CPU kernels are deterministic for a given thread count; torch's deterministic mode
    # would only pick slower convolution paths here (measured: ~2x per step).


def spec_augment(x, cfg, generator):
    """Zero random bands of feature rows and of frames in each example (in place)."""
    import torch

    n, rows, frames = x.shape
    for masks, width, axis, size in ((cfg.freq_masks, cfg.freq_width, 1, rows),
                                     (cfg.time_masks, cfg.time_width, 2, frames)):
        for _ in range(masks):
            w = torch.randint(0, min(width, size) + 1, (n,), generator=generator)
            start = (torch.rand(n, generator=generator) * (size - w + 1)).long()
            pos = torch.arange(size)
            mask = (pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None])
            if axis == 1:
                x.masked_fill_(mask[:, :, None], 0.0)
            else:
                x.masked_fill_(mask[:, None, :], 0.0)
    return x


class WeightAverage:
    """An exponential moving average of a model's weights (and batch-norm statistics).

    On small data the weights swing from epoch to epoch (docs/results.md shows how far); the
    average sits in the middle of those swings. It is what gets
    validated, early-stopped and saved. The decay warms up so early steps are not dominated
    by the random initial weights.
    """

    def __init__(self, model, horizon_steps: float) -> None:
        self.model = copy.deepcopy(model).eval()
        self.decay = 1.0 - 1.0 / horizon_steps
        self.updates = 0
        # state_dict tensors share storage with the live ones: pair them once, not every step.
        self.pairs = list(zip(self.model.state_dict().values(), model.state_dict().values(),
                              strict=True))

    def update(self) -> None:
        """Fold the tracked model's current weights into the average (after each step)."""
        import torch

        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        with torch.no_grad():
            for avg, new in self.pairs:
                if avg.is_floating_point():
                    avg.lerp_(new, 1.0 - decay)
                else:  # counters such as num_batches_tracked
                    avg.copy_(new)


def _evaluate(model, x, labels, mean, std, fabric=None,
              batch_size: int = 256) -> tuple[float, np.ndarray]:
    import torch
    import torch.nn.functional as F

    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(normalize(x[start:start + batch_size], mean, std))
            if fabric is None:
                outs.append(F.log_softmax(model(xb), dim=1))
                continue
            with fabric.autocast():
                logits = model(fabric.to_device(xb))
            outs.append(F.log_softmax(logits.float(), dim=1).cpu())
    log_probs = torch.cat(outs)
    loss = F.nll_loss(log_probs, torch.from_numpy(labels)).item()
    return loss, log_probs.numpy()


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


def train_step(model, optimizer, x_raw: np.ndarray, y: np.ndarray, mean: np.ndarray,
               std: np.ndarray, cfg: TrainConfig, rng: np.random.Generator, generator,
               n_classes: int, fabric=None, class_weights: np.ndarray | None = None
               ) -> tuple[float, int]:
    """One optimiser step on a batch of raw segments: normalise, mask, mix up, update.

    Masks and mixup are drawn on the CPU (the same random numbers on any device); `fabric`
    moves the batch to its device and handles autocast and loss scaling. Returns the batch
    loss and how many examples the model got right (against the original labels, before
    mixup).
    """
    import torch
    import torch.nn.functional as F

    xb = torch.from_numpy(normalize(x_raw, mean, std))
    yb = torch.from_numpy(y)
    spec_augment(xb, cfg.spec_augment, generator)
    target = F.one_hot(yb, n_classes).float()
    if cfg.label_smoothing:
        target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / n_classes
    if cfg.mixup_alpha > 0:
        lam = float(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha))
        perm = torch.from_numpy(rng.permutation(len(y)))
        xb = lam * xb + (1 - lam) * xb[perm]
        target = lam * target + (1 - lam) * target[perm]
    if fabric is not None:
        xb, target, yb = fabric.to_device((xb, target, yb))
    logits = model(xb).float()
    if class_weights is not None:  # each genre's share of the loss, per unit of target
        target = target * torch.as_tensor(class_weights, dtype=target.dtype,
                                          device=target.device)
    loss = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    optimizer.zero_grad()
    if fabric is None:
        loss.backward()
    else:
        fabric.backward(loss)
    optimizer.step()
    return loss.item(), int((logits.argmax(dim=1) == yb).sum().item())


def train_neural(spec: ModelSpec, model_cfg, cfg: TrainConfig, seed: int, data: TrainingData,
                 out_dir: Path, live_dir: Path, progress: bool = True) -> dict:
    import torch
    from dvclive import Live

    from musicgenre.devices import make_fabric

    seed_everything(seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    fabric = make_fabric(cfg.device, cfg.precision, cfg.devices, cfg.num_nodes)
    rank, world = fabric.global_rank, fabric.world_size
    meta = data.meta
    mean = np.asarray(meta["mean"], dtype=np.float32)
    std = np.asarray(meta["std"], dtype=np.float32)
    x_train, idx_train, x_val, idx_val = data.x_train, data.idx_train, data.x_val, data.idx_val
    y_train = idx_train["label"].to_numpy(np.int64)
    y_val = idx_val["label"].to_numpy(np.int64)
    n_classes = len(meta["genres"])
    weights = class_weights(idx_train, n_classes) if cfg.class_weight == "balanced" else None
    name = spec.name
    model = spec.network(model_cfg, x_train.shape[1], x_train.shape[2], n_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model, optimizer = fabric.setup(model, optimizer)
    # Every process draws the same epoch order; with DDP each one trains on its share of
    # every batch, with masks and mixup drawn from generators of its own.
    order_rng = np.random.default_rng(seed)
    rng = order_rng if world == 1 else np.random.default_rng([seed, rank])
    generator = torch.Generator().manual_seed(seed + rank)
    sampler = CropSampler(idx_train, cfg.crops_per_track, cfg.min_epoch_crops)
    steps_per_epoch = -(-len(sampler) // cfg.batch_size)
    average = (WeightAverage(model.module, cfg.ema_epochs * steps_per_epoch)
               if cfg.ema_epochs else None)
    scored = average.model if average else model  # the weights validated and saved

    best = {"val_loss": float("inf"), "epoch": -1, "state": None}
    epoch_seconds = []
    waited = 0
    progress = progress and rank == 0
    # dvclive, the checkpoint and the calibration are written by the first process only
    logger = (Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None)
              if rank == 0 else contextlib.nullcontext())
    with logger as live:
        for epoch in range(cfg.epochs):
            start = time.perf_counter()
            model.train()
            order = sampler.epoch(order_rng)
            total_loss = correct = seen = 0.0
            batches = range(0, len(order), cfg.batch_size)
            bar = tqdm(batches, desc=f"{name} epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                       disable=not progress, leave=False, file=sys.stderr)
            for b in bar:
                rows = np.sort(order[b:b + cfg.batch_size])  # sorted: sequential memmap reads
                if len(rows) < world:  # a tail too short to give every process a row
                    continue
                rows = rows[rank::world]
                loss, hits = train_step(model, optimizer, x_train[rows], y_train[rows], mean,
                                        std, cfg, rng, generator, n_classes, fabric, weights)
                if average:
                    average.update()
                total_loss += loss * len(rows)
                correct += hits
                seen += len(rows)
            if world > 1:
                total_loss, correct, seen = fabric.all_reduce(
                    torch.tensor([total_loss, correct, seen], dtype=torch.float64),
                    reduce_op="sum").tolist()
            epoch_seconds.append(time.perf_counter() - start)
            val_loss, val_log_probs = _evaluate(scored, x_val, y_val, mean, std, fabric)
            metrics = {
                "train/loss": total_loss / seen,
                "train/accuracy": correct / seen,
                "val/loss": val_loss,
                "val/accuracy": float((val_log_probs.argmax(axis=1) == y_val).mean()),
                "val/track_accuracy": track_accuracy(val_log_probs, idx_val),
            }
            for key, value in metrics.items():
                if live:
                    live.log_metric(key, round(value, 6))
            if progress:
                print(f"{name} epoch {epoch + 1}: train loss {metrics['train/loss']:.4f} "
                      f"val loss {val_loss:.4f} val track acc "
                      f"{metrics['val/track_accuracy']:.3f}", file=sys.stderr)
            # A validation set of a few tracks can score an underfit early epoch best by
            # chance (docs/results.md has a case); like Keras' start_from_epoch,
            # the watch starts at min_epochs (or the last epoch, if that comes first).
            # Nothing left to learn: every validation track right with a validation loss at
            # most stop_val_loss (synthetic data gets there in a few epochs; real music with
            # more than a handful of validation tracks does not) ends training at once, this
            # epoch kept, min_epochs or not.
            solved = (metrics["val/track_accuracy"] == 1.0 and val_loss <= cfg.stop_val_loss)
            watching = solved or epoch + 1 >= min(cfg.min_epochs, cfg.epochs)
            # min_delta: a loss still creeping down by crumbs is not worth more epochs.
            if watching and val_loss < best["val_loss"] - max(cfg.min_delta, 1e-4):
                state = getattr(scored, "module", scored).state_dict()
                best = {"val_loss": val_loss, "epoch": epoch + 1, "metrics": metrics,
                        "state": {k: v.detach().cpu().clone() for k, v in state.items()}}
                waited = 0
            elif watching:
                waited += 1
            if live:
                live.next_step()
            if waited >= cfg.patience or (solved and best["epoch"] == epoch + 1):
                break
        summary = {"best_epoch": best["epoch"], "epochs_run": epoch + 1,
                   "best_val_loss": round(best["val_loss"], 6),
                   "val_accuracy": round(best["metrics"]["val/accuracy"], 6),
                   "val_track_accuracy": round(best["metrics"]["val/track_accuracy"], 6),
                   "parameters": sum(p.numel() for p in model.parameters())}
        if live:
            live.summary.update({"best": summary})

    if rank:
        return summary
    save_model(spec, out_dir, {
        "model": name, "config": asdict(model_cfg), **data.checkpoint_header(),
        "train": asdict(cfg), "seed": seed, "summary": summary,
        "versions": package_versions("torch", "librosa", "sklearn", "numpy"),
        "device": fabric.device.type}, best["state"])
    _write_timing(live_dir, name, epoch_seconds, device=fabric.device.type)
    calibrate(out_dir, data)
    return summary


def fit_estimator(spec: ModelSpec, cfg, seed: int, data: TrainingData, out_dir: Path,
                  live_dir: Path, class_weight: str = "none") -> dict:
    """Fit a scikit-learn model in one step: on one example per training track version (the
    summary of its segments, with spec.track_summary) or per training segment."""
    def examples(x, index):
        if spec.track_summary is None:
            return np.asarray(x), index["label"].to_numpy()
        groups = index.groupby(["track_id", "copy"], sort=True)
        stats = np.stack([spec.track_summary(x[rows.to_numpy()]) for _, rows in groups["row"]])
        return stats, groups["label"].first().to_numpy()

    start = time.perf_counter()
    estimator = spec.estimator(cfg, seed)
    if class_weight == "balanced":  # every estimator in the registry takes class_weight
        estimator[-1].set_params(class_weight="balanced")
    estimator.fit(*examples(data.x_train, data.idx_train))
    seconds = time.perf_counter() - start
    classifier = Classifier(spec, data.meta["genres"], None, None, None, estimator)
    _, labels, track_lp, seg_log_probs = score_tracks(classifier, data.x_val, data.idx_val)
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    summary = {"val_track_accuracy": round(float((track_lp.argmax(axis=1) == labels).mean()), 6),
               "val_accuracy": round(float((seg_log_probs.argmax(axis=1)
                                            == data.idx_val["label"].to_numpy()).mean()), 6),
               "parameters": int(sum(np.size(getattr(final, a, ()))
                                     for a in ("coef_", "intercept_", "dual_coef_")))}
    live_dir = Path(live_dir)
    write_json(live_dir / "metrics.json", {"best": summary})
    save_model(spec, out_dir, {
        "model": spec.name, "config": asdict(cfg), **data.checkpoint_header(), "seed": seed,
        "summary": summary,
        "versions": package_versions("torch", "librosa", "sklearn", "numpy")}, estimator)
    _write_timing(live_dir, spec.name, [seconds])
    calibrate(out_dir, data)
    return summary


def fit_model(spec: ModelSpec, params: dict, data: TrainingData, out_dir: Path,
              live_dir: Path, progress: bool = True, epochs: int | None = None) -> dict:
    """Fit `spec`'s model with `params` (seed, train and the model's own section, as
    load_params gives them). `epochs`: train a network for exactly that many epochs, the last
    one kept (a refit on training + validation tracks, where nothing is left to validate on)."""
    if not spec.is_neural:
        return fit_estimator(spec, params[spec.name], params["seed"], data, out_dir, live_dir,
                             params["train"].class_weight if "train" in params else "none")
    cfg = params["train"]
    if epochs is not None:
        # min_epochs = epochs: no earlier epoch can be picked and nothing stops sooner;
        # stop_val_loss 0: the validation tracks are trained on, so they would stop it early.
        cfg = replace(cfg, epochs=epochs, min_epochs=epochs, patience=epochs, stop_val_loss=0.0)
    return train_neural(spec, params[spec.name], cfg, params["seed"], data, out_dir, live_dir,
                        progress=progress)


def train_model(spec: ModelSpec, params: dict, features_dir: Path, out_dir: Path,
                live_dir: Path) -> dict:
    """The train stage: read the feature store's train/val splits (the segments' features,
    or their embeddings if the model reads those) and fit the model."""
    data = TrainingData.from_features_dir(features_dir, spec.uses_embeddings)
    return fit_model(spec, params, data, out_dir, live_dir)


def calibrate(model_dir: Path, data: TrainingData) -> dict:
    """Fit the saved model's temperature on the validation tracks (see calibration.py) and
    write it beside the checkpoint, where load_classifier finds it."""
    from musicgenre.calibration import calibration_summary

    classifier = load_classifier(model_dir)
    _, labels, scores, _ = score_tracks(classifier, np.asarray(data.x_val), data.idx_val)
    summary = calibration_summary(scores, labels)
    write_json(Path(model_dir) / CALIBRATION_FILE, summary)
    return summary


def _write_timing(live_dir: Path, name: str, epoch_seconds: list[float],
                  device: str = "cpu") -> None:
    """Wall-clock times are kept apart from metrics: they differ between identical runs."""
    write_json(Path(live_dir) / "timing.json", {
        "model": name, "device": device, "epochs": len(epoch_seconds),
        "mean_epoch_seconds": round(float(np.mean(epoch_seconds)), 3),
        "total_seconds": round(float(np.sum(epoch_seconds)), 3)})
