"""RNN: a stacked (bidirectional) LSTM over feature frames, attention pooling, dense head."""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from musicgenre.core.errors import ConfigError
from musicgenre.models.blocks import check_dropout
from musicgenre.models.spec import ModelSpec


@dataclass
class RNNConfig:
    hidden: int = 128
    layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.3
    pooling: Literal["attention", "mean", "last"] = "attention"

    def check(self, key: str) -> None:
        if self.hidden < 1 or self.layers < 1:
            raise ConfigError(f"{key}.hidden and {key}.layers: must be >= 1")
        check_dropout(key, self.dropout)


class AttentionPool(nn.Module):
    """Softmax-weighted average over time, the weights learned from each frame."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, D]
        weights = torch.softmax(self.score(h), dim=1)
        return (weights * h).sum(dim=1)


def pool_sequence(h: torch.Tensor, pooling: str, attention: nn.Module | None) -> torch.Tensor:
    if pooling == "attention":
        return attention(h)
    if pooling == "mean":
        return h.mean(dim=1)
    return h[:, -1]


class RNN(nn.Module):
    def __init__(self, cfg: RNNConfig, n_rows: int, n_frames: int, n_classes: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_norm = nn.LayerNorm(n_rows)
        self.lstm = nn.LSTM(n_rows, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                            bidirectional=cfg.bidirectional,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        dim = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.attention = AttentionPool(dim) if cfg.pooling == "attention" else None
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(dim, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, rows, frames] -> logits; the LSTM steps over frames."""
        h, _ = self.lstm(self.input_norm(x.transpose(1, 2)))
        return self.head(pool_sequence(h, self.cfg.pooling, self.attention))


SPEC = ModelSpec("rnn", RNNConfig, network=RNN)
