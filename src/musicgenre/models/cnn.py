"""CNN: conv blocks over the (feature x time) image, global pooling, dense softmax head."""

from dataclasses import dataclass, field

import torch
from torch import nn

from musicgenre.models.blocks import check_channels, check_dropout, conv_stack
from musicgenre.models.spec import ModelSpec


@dataclass
class CNNConfig:
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    dense: int = 128
    dropout: float = 0.3

    def check(self, key: str) -> None:
        check_channels(key, self.channels)
        check_dropout(key, self.dropout)


class CNN(nn.Module):
    def __init__(self, cfg: CNNConfig, n_rows: int, n_frames: int, n_classes: int) -> None:
        super().__init__()
        self.features, _, _ = conv_stack(cfg.channels, n_rows, n_frames,
                                         [2] * len(cfg.channels))
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout),
            nn.Linear(2 * cfg.channels[-1], cfg.dense),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.dense, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, rows, frames] -> logits [batch, classes]."""
        h = self.features(x.unsqueeze(1))
        # Mean and max over the remaining (feature, time) grid: average level and peak presence.
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)


SPEC = ModelSpec("cnn", CNNConfig, network=CNN)
