"""CRNN (Choi et al. 2017 shape): conv blocks pool the frequency axis away, a GRU or LSTM runs
over the remaining time steps, and a dense layer classifies."""

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from musicgenre.core.errors import ConfigError
from musicgenre.models.blocks import check_channels, check_dropout, conv_stack
from musicgenre.models.rnn import AttentionPool, pool_sequence
from musicgenre.models.spec import ModelSpec


@dataclass
class CRNNConfig:
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    time_pool: list[int] = field(default_factory=lambda: [2, 2, 2, 1])  # per block
    rnn: Literal["gru", "lstm"] = "gru"
    rnn_hidden: int = 64
    rnn_layers: int = 1
    bidirectional: bool = True
    pooling: Literal["attention", "mean", "last"] = "attention"
    dropout: float = 0.3

    def check(self, key: str) -> None:
        check_channels(key, self.channels)
        if len(self.time_pool) != len(self.channels) or min(self.time_pool) < 1:
            raise ConfigError(f"{key}.time_pool: one positive factor per conv block")
        check_dropout(key, self.dropout)


class CRNN(nn.Module):
    def __init__(self, cfg: CRNNConfig, n_rows: int, n_frames: int, n_classes: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.features, _, _ = conv_stack(cfg.channels, n_rows, n_frames, cfg.time_pool)
        rnn_cls = nn.GRU if cfg.rnn == "gru" else nn.LSTM
        self.rnn = rnn_cls(cfg.channels[-1], cfg.rnn_hidden, num_layers=cfg.rnn_layers,
                           batch_first=True, bidirectional=cfg.bidirectional,
                           dropout=cfg.dropout if cfg.rnn_layers > 1 else 0.0)
        dim = cfg.rnn_hidden * (2 if cfg.bidirectional else 1)
        self.attention = AttentionPool(dim) if cfg.pooling == "attention" else None
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(dim, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, rows, frames] -> logits."""
        h = self.features(x.unsqueeze(1))  # [B, C, F', T']
        h = h.amax(dim=2).transpose(1, 2)  # any frequency left is max-pooled: [B, T', C]
        h, _ = self.rnn(h)
        return self.head(pool_sequence(h, self.cfg.pooling, self.attention))


SPEC = ModelSpec("crnn", CRNNConfig, network=CRNN)
