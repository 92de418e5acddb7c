"""A sixth model, defined outside the package, for the registry test: the smallest network
that can learn (mean and max of every feature row over time, one hidden layer)."""

from dataclasses import dataclass

import torch
from torch import nn

from musicgenre.core.errors import ConfigError
from musicgenre.models.spec import ModelSpec


@dataclass
class TinyConfig:
    hidden: int = 16

    def check(self, key: str) -> None:
        if self.hidden < 1:
            raise ConfigError(f"{key}.hidden: must be >= 1, got {self.hidden}")


class Tiny(nn.Module):
    def __init__(self, cfg: TinyConfig, n_rows: int, n_frames: int, n_classes: int) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Linear(2 * n_rows, cfg.hidden), nn.ReLU(),
                                  nn.Linear(cfg.hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1))


SPEC = ModelSpec("tiny", TinyConfig, network=Tiny)
