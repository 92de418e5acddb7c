"""The params of the train stage: `train` (each model's own section is typed by its spec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from musicgenre.core.errors import ConfigError
from musicgenre.core.parsing import positive


@dataclass
class SpecAugmentConfig:
    """SpecAugment-style masking of training segments (after normalisation, masked = 0)."""

    freq_masks: int = 2
    freq_width: int = 16  # at most this many feature rows per mask
    time_masks: int = 2
    time_width: int = 24  # at most this many frames per mask

    def check(self, key: str) -> None:
        for name in ("freq_masks", "freq_width", "time_masks", "time_width"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must be >= 0")


@dataclass
class TrainConfig:
    epochs: int = 60
    crops_per_track: int = 1  # random segments per training track and version each epoch
    min_epoch_crops: int = 1024  # more crops per version when an epoch would have fewer
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10  # epochs without a lower validation loss before stopping
    min_delta: float = 0.005  # a validation loss must drop by more than this to count
    stop_val_loss: float = 0.2  # stop once every validation track is right and loss <= this
    min_epochs: int = 10  # no stopping and no best-epoch pick before this epoch
    ema_epochs: float = 2.0  # weights averaged over about this many epochs; 0: no averaging
    mixup_alpha: float = 0.2  # 0: no mixup
    label_smoothing: float = 0.0
    # balanced: weigh each genre's loss by 1 / its share of training tracks (unbalanced data)
    class_weight: Literal["none", "balanced"] = "none"
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    threads: int = 0  # torch CPU threads; 0: torch's default
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    devices: int = 1  # data-parallel processes per machine (GPUs, or CPU processes)
    num_nodes: int = 1  # machines; more than one needs torchrun or SLURM to start them

    def check(self, key: str) -> None:
        for name in ("epochs", "batch_size", "lr", "patience"):
            positive(key, name, getattr(self, name))
        if min(self.weight_decay, self.mixup_alpha, self.threads, self.ema_epochs,
               self.min_epochs, self.crops_per_track, self.min_delta,
               self.min_epoch_crops, self.stop_val_loss) < 0:
            raise ConfigError(f"{key}: weight_decay, mixup_alpha, ema_epochs, min_epochs, "
                              "crops_per_track, min_epoch_crops, min_delta, stop_val_loss and "
                              "threads must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"{key}.label_smoothing: must be in [0, 1)")
        if self.devices < 1 or self.num_nodes < 1:
            raise ConfigError(f"{key}.devices and {key}.num_nodes: must be >= 1")
        if self.precision == "16-mixed" and self.device == "cpu":
            raise ConfigError(f"{key}.precision: 16-mixed needs a GPU; use 32-true or "
                              "bf16-mixed on the CPU")
