"""The on-disk feature store the features stage writes and training reads.

`<split>.npy` (segments [n, rows, frames], float16, memory-mappable), `<split>.csv` (one row
per segment: row, track_id, genre, label, segment, copy), `<split>.embeddings.npy` (with
features.embedding: each segment's pretrained embedding, row-aligned) and `meta.json`
(feature params, genres, training-split normalisation statistics, what was dropped).
Segments are stored raw; `normalize` applies the statistics when they are read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.errors import MusicGenreError
from musicgenre.features.extract import FEATURE_DTYPE

EMBEDDINGS_SUFFIX = ".embeddings.npy"


class NpyStreamWriter:
    """Append equally shaped rows to a `.npy` file without holding them in memory.

    A fixed 128-byte header is reserved and rewritten with the final row count on close (the
    .npy format allows any space padding), so the file is a plain array `np.load` can memory-map.
    """

    HEADER = 128

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype=FEATURE_DTYPE) -> None:
        self.path, self.row_shape, self.dtype = Path(path), tuple(row_shape), np.dtype(dtype)
        self.rows = 0
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.fh = open(self.tmp, "wb")
        self.fh.write(b"\0" * self.HEADER)

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        assert block.shape[1:] == self.row_shape, (block.shape, self.row_shape)
        self.fh.write(block.tobytes())
        self.rows += len(block)

    def close(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.rows, *self.row_shape)}
        text = repr(header).encode("latin1")
        prefix = b"\x93NUMPY\x01\x00"
        pad = self.HEADER - len(prefix) - 2 - len(text) - 1
        self.fh.seek(0)
        self.fh.write(prefix + (self.HEADER - len(prefix) - 2).to_bytes(2, "little") + text
                      + b" " * pad + b"\n")
        self.fh.close()
        os.replace(self.tmp, self.path)


class RunningStats:
    """Per-row mean and std over all frames of all rows seen (float64 sums)."""

    def __init__(self, n_rows: int) -> None:
        self.count = 0
        self.total = np.zeros(n_rows)
        self.total_sq = np.zeros(n_rows)

    def add(self, block: np.ndarray) -> None:
        x = block.astype(np.float64)
        self.count += x.shape[0] * x.shape[2]
        self.total += x.sum(axis=(0, 2))
        self.total_sq += np.square(x).sum(axis=(0, 2))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.count == 0:
            raise MusicGenreError("features: no training segments; cannot fit normalisation")
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.total_sq / self.count - mean**2, 0.0))
        return mean, np.maximum(std, 1e-6)


def load_meta(features_dir: Path) -> dict:
    path = Path(features_dir) / "meta.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MusicGenreError(f"{path}: not found; run the features stage first") from None


def load_split(features_dir: Path, split: str, embeddings: bool = False
               ) -> tuple[np.ndarray, pd.DataFrame]:
    """Memory-mapped features (or, with `embeddings`, the segments' pretrained embeddings) and
    their index for one split (not normalised)."""
    features_dir = Path(features_dir)
    path = features_dir / f"{split}{EMBEDDINGS_SUFFIX if embeddings else '.npy'}"
    if embeddings and not path.exists():
        raise MusicGenreError(f"{path}: no segment embeddings; set features.embedding (e.g. "
                              "MSD_musicnn) so that the features stage computes them")
    x = np.load(path, mmap_mode="r")
    index = pd.read_csv(features_dir / f"{split}.csv")
    if embeddings and len(index) != len(x):
        # Augmented copies were not embedded (features.embed_augmented false): the rows are
        # the originals' segments, in the index's order.
        index = index[index["copy"] == 0].reset_index(drop=True)
        if "row" in index:  # rows of the embeddings file, not of the features file
            index["row"] = np.arange(len(index))
        if len(index) != len(x):
            raise MusicGenreError(f"{path}: {len(x)} embeddings for {len(index)} segments; "
                                  "rerun the features stage")
    return x, index


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise [..., n_rows, frames] with training-split statistics, as float32."""
    mean = np.asarray(mean, dtype=np.float32)[:, None]
    std = np.asarray(std, dtype=np.float32)[:, None]
    return (np.asarray(x, dtype=np.float32) - mean) / std
