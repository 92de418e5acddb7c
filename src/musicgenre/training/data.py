"""What a model is fitted on, read from the feature store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.errors import MusicGenreError
from musicgenre.features.store import load_meta, load_split


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
