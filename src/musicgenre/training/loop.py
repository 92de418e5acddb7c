"""The training loop of a network, read top to bottom.

Adam with weight decay; SpecAugment-style masks and mixup on training batches
(regularisation.py); random crops of every track version each epoch (sampler.py); a moving
average of the weights, which is what is validated and saved (averaging.py); early stopping on
validation loss, the best epoch kept (early_stopping.py). Every epoch's train/validation loss
and accuracy are logged with dvclive for `dvc plots`. Devices, precision and data-parallel
processes come from Lightning Fabric. Seeded end to end: the same params give the same weights
on CPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from musicgenre.core.metrics import track_accuracy
from musicgenre.features.store import normalize
from musicgenre.models.spec import ModelSpec
from musicgenre.training.averaging import WeightAverage
from musicgenre.training.config import TrainConfig
from musicgenre.training.data import TrainingData
from musicgenre.training.early_stopping import EarlyStopping
from musicgenre.training.regularisation import mix_up, soft_targets, spec_augment
from musicgenre.training.sampler import CropSampler, class_weights

os.environ.setdefault("DVC_NO_ANALYTICS", "1")  # dvclive must not phone home from a stage


def seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # CPU kernels are deterministic for a given thread count; torch's deterministic mode
    # would only pick slower convolution paths here (measured: ~2x per step).


@dataclass
class NetworkRun:
    """Everything one training run of a network holds: the data as arrays, the network and
    its optimiser (set up by Fabric), the weight average and the random generators."""

    name: str
    cfg: TrainConfig
    data: TrainingData
    fabric: Any
    network: Any  # the Fabric-wrapped module being trained
    optimizer: Any
    average: WeightAverage | None
    sampler: CropSampler
    order_rng: np.random.Generator  # the epoch order, the same in every process
    rng: np.random.Generator  # mixup, per process
    generator: Any  # torch.Generator for the masks, per process
    mean: np.ndarray
    std: np.ndarray
    y_train: np.ndarray
    n_classes: int
    class_weights: np.ndarray | None

    @property
    def scored(self):
        """The weights validated and saved: the average where there is one."""
        return self.average.model if self.average else self.network

    @property
    def rank(self) -> int:
        return self.fabric.global_rank

    @property
    def world(self) -> int:
        return self.fabric.world_size


def start_run(spec: ModelSpec, model_cfg, cfg: TrainConfig, seed: int,
              data: TrainingData) -> NetworkRun:
    """Seed, pick the device, build the network and set everything up for epoch 1."""
    import torch

    from musicgenre.core.devices import make_fabric

    seed_everything(seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    fabric = make_fabric(cfg.device, cfg.precision, cfg.devices, cfg.num_nodes)
    rank, world = fabric.global_rank, fabric.world_size
    n_classes = len(data.meta["genres"])
    weights = class_weights(data.idx_train, n_classes) if cfg.class_weight == "balanced" else None
    network = spec.network(model_cfg, data.x_train.shape[1], data.x_train.shape[2], n_classes)
    optimizer = torch.optim.Adam(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    network, optimizer = fabric.setup(network, optimizer)
    # Every process draws the same epoch order; with DDP each one trains on its share of
    # every batch, with masks and mixup drawn from generators of its own.
    order_rng = np.random.default_rng(seed)
    rng = order_rng if world == 1 else np.random.default_rng([seed, rank])
    generator = torch.Generator().manual_seed(seed + rank)
    sampler = CropSampler(data.idx_train, cfg.crops_per_track, cfg.min_epoch_crops)
    steps_per_epoch = -(-len(sampler) // cfg.batch_size)
    average = (WeightAverage(network.module, cfg.ema_epochs * steps_per_epoch)
               if cfg.ema_epochs else None)
    return NetworkRun(spec.name, cfg, data, fabric, network, optimizer, average, sampler,
                      order_rng, rng, generator,
                      np.asarray(data.meta["mean"], dtype=np.float32),
                      np.asarray(data.meta["std"], dtype=np.float32),
                      data.idx_train["label"].to_numpy(np.int64), n_classes, weights)


def train_step(run: NetworkRun, rows: np.ndarray) -> tuple[float, int]:
    """One optimiser step on the training rows `rows`: normalise, mask, mix up, update.

    Masks and mixup are drawn on the CPU (the same random numbers on any device); Fabric moves
    the batch to its device and handles autocast and loss scaling. Returns the batch loss and
    how many examples the network got right (against the original labels, before mixup).
    """
    import torch
    import torch.nn.functional as F

    cfg, fabric = run.cfg, run.fabric
    xb = torch.from_numpy(normalize(run.data.x_train[rows], run.mean, run.std))
    yb = torch.from_numpy(run.y_train[rows])
    spec_augment(xb, cfg.spec_augment, run.generator)
    target = soft_targets(yb, run.n_classes, cfg.label_smoothing)
    xb, target = mix_up(xb, target, cfg.mixup_alpha, run.rng)
    xb, target, yb = fabric.to_device((xb, target, yb))
    logits = run.network(xb).float()
    if run.class_weights is not None:  # each genre's share of the loss, per unit of target
        target = target * torch.as_tensor(run.class_weights, dtype=target.dtype,
                                          device=target.device)
    loss = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    run.optimizer.zero_grad()
    fabric.backward(loss)
    run.optimizer.step()
    return loss.item(), int((logits.argmax(dim=1) == yb).sum().item())


def train_epoch(run: NetworkRun, epoch: int, progress: bool) -> dict:
    """One pass over this epoch's crops; the training loss and accuracy over all processes."""
    import torch

    cfg = run.cfg
    run.network.train()
    order = run.sampler.epoch(run.order_rng)
    total_loss = correct = seen = 0.0
    batches = tqdm(range(0, len(order), cfg.batch_size), unit="batch", leave=False,
                   desc=f"{run.name} epoch {epoch}/{cfg.epochs}", disable=not progress,
                   file=sys.stderr)
    for b in batches:
        rows = np.sort(order[b:b + cfg.batch_size])  # sorted: sequential memmap reads
        if len(rows) < run.world:  # a tail too short to give every process a row
            continue
        rows = rows[run.rank::run.world]
        loss, hits = train_step(run, rows)
        if run.average:
            run.average.update()
        total_loss += loss * len(rows)
        correct += hits
        seen += len(rows)
    if run.world > 1:
        total_loss, correct, seen = run.fabric.all_reduce(
            torch.tensor([total_loss, correct, seen], dtype=torch.float64),
            reduce_op="sum").tolist()
    return {"train/loss": total_loss / seen, "train/accuracy": correct / seen}


def validate(run: NetworkRun, batch_size: int = 256) -> dict:
    """Loss, segment accuracy and track accuracy of the scored weights on the validation
    segments."""
    import torch
    import torch.nn.functional as F

    network, x_val, fabric = run.scored, run.data.x_val, run.fabric
    labels = run.data.idx_val["label"].to_numpy(np.int64)
    network.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(x_val), batch_size):
            xb = torch.from_numpy(normalize(x_val[start:start + batch_size], run.mean, run.std))
            with fabric.autocast():
                logits = network(fabric.to_device(xb))
            outs.append(F.log_softmax(logits.float(), dim=1).cpu())
    log_probs = torch.cat(outs)
    loss = F.nll_loss(log_probs, torch.from_numpy(labels)).item()
    log_probs = log_probs.numpy()
    return {"val/loss": loss,
            "val/accuracy": float((log_probs.argmax(axis=1) == labels).mean()),
            "val/track_accuracy": track_accuracy(log_probs, run.data.idx_val)}


@dataclass
class TrainedNetwork:
    """What a training run leaves: the best epoch's weights and what to report about it."""

    state: dict  # the best epoch's state dict, on the CPU
    summary: dict  # best epoch, epochs run, validation loss and accuracies, parameters
    epoch_seconds: list[float]
    device: str  # where it trained: cpu, cuda, mps
    rank: int  # this process's rank (0 without DDP): only rank 0 writes files


def train_neural(spec: ModelSpec, model_cfg, cfg: TrainConfig, seed: int, data: TrainingData,
                 live_dir: Path, progress: bool = True) -> TrainedNetwork:
    """Train a network epoch by epoch until early stopping says so. dvclive's curves are
    written into `live_dir` by the first process only (with DDP, every process trains).

    Why seven parameters: the network's spec and config, the training config and seed, the
    data, the log folder and the progress switch; the train stage's params as they come.
    """
    run = start_run(spec, model_cfg, cfg, seed, data)
    stopping = EarlyStopping(cfg)
    epoch_seconds = []
    progress = progress and run.rank == 0
    logger = _live_logger(live_dir) if run.rank == 0 else contextlib.nullcontext()
    with logger as live:
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            metrics = train_epoch(run, epoch, progress)
            epoch_seconds.append(time.perf_counter() - start)
            metrics.update(validate(run))
            _log_epoch(live, run.name, epoch, metrics, progress)
            stop = stopping.update(epoch, metrics, run.scored)
            if live:
                live.next_step()
            if stop:
                break
        best = stopping.best_metrics
        summary = {"best_epoch": stopping.best_epoch, "epochs_run": epoch,
                   "best_val_loss": round(stopping.best_loss, 6),
                   "val_accuracy": round(best["val/accuracy"], 6),
                   "val_track_accuracy": round(best["val/track_accuracy"], 6),
                   "parameters": sum(p.numel() for p in run.network.parameters())}
        if live:
            live.summary.update({"best": summary})
    return TrainedNetwork(stopping.best_state, summary, epoch_seconds, run.fabric.device.type,
                          run.rank)


def _live_logger(live_dir: Path):
    from dvclive import Live

    return Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None)


def _log_epoch(live, name: str, epoch: int, metrics: dict, progress: bool) -> None:
    if live:
        for key, value in metrics.items():
            live.log_metric(key, round(value, 6))
    if progress:
        print(f"{name} epoch {epoch}: train loss {metrics['train/loss']:.4f} "
              f"val loss {metrics['val/loss']:.4f} val track acc "
              f"{metrics['val/track_accuracy']:.3f}", file=sys.stderr)

