"""What the pipeline needs to know about a model, in one small record.

A model module defines `SPEC = ModelSpec(...)`; the registry (`musicgenre.models`) maps the
name used in params.yaml to that module. Everything the stages do with a model is derived
from its spec: which params section it reads, what input it reads, how it is fitted (a torch
network by train.py's epoch loop, a scikit-learn estimator in one step), how its checkpoint is
saved and loaded, and how a track is scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the name in params.yaml (`models`, `model`, and its own section)
    config: type  # dataclass of its params section (parsed by musicgenre.core.parsing)
    reads: Literal["features", "embeddings"] = "features"  # segment features, or the
    # segments' pretrained embeddings (features.embedding must be set)
    # Exactly one of the two builders:
    network: Callable[..., Any] | None = None  # (cfg, n_rows, n_frames, n_classes) -> nn.Module
    estimator: Callable[..., Any] | None = None  # (cfg, seed) -> unfitted scikit-learn model
    # Estimators only: one example per track version, summarised from all its segments
    # ([n, rows, frames] -> [d]); None: one example per segment, like the networks.
    track_summary: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if (self.network is None) == (self.estimator is None):
            raise TypeError(f"model {self.name}: give exactly one of network or estimator")
        if self.track_summary is not None and self.network is not None:
            raise TypeError(f"model {self.name}: track_summary is for estimators")
        if self.reads not in ("features", "embeddings"):
            raise TypeError(f"model {self.name}: reads features or embeddings")

    @property
    def is_neural(self) -> bool:
        """Trained epoch by epoch with early stopping (and saved as a torch state dict)."""
        return self.network is not None

    @property
    def uses_embeddings(self) -> bool:
        return self.reads == "embeddings"

    @property
    def averages_segments(self) -> bool:
        """A track's score is the mean of its segments' log-probabilities (otherwise the
        estimator classifies the track's summary directly)."""
        return self.track_summary is None
