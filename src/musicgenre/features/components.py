"""The feature components the features stage can compute, and their sizes.

Light on purpose (no librosa, no torch): the params schema checks names against it.
"""

from __future__ import annotations

from typing import Any

# Rows each component adds to a segment's feature matrix (cfg: a FeaturesConfig).
ROWS = {
    "logmel": lambda cfg: cfg.n_mels,
    "mfcc": lambda cfg: cfg.n_mfcc,
    "chroma": lambda cfg: 12,  # pitch classes
    "contrast": lambda cfg: 7,  # 6 octave bands + the residual, as librosa computes it
}
NAMED_SETS = {"seed_stack": ("mfcc", "chroma", "contrast")}  # the seed study's stack

# Pretrained networks in the musicnn package (see musicnn.py) and their segment embedding.
EMBEDDINGS = ("MSD_musicnn", "MTT_musicnn")
EMBEDDING_DIM = 753  # musicnn's max-pool feature maps


def rows(component: str, cfg: Any) -> int:
    return ROWS[component](cfg)


def row_names(cfg: Any) -> list[str]:
    """`logmel_0`, `logmel_1`, ...: one name per feature row, in the stacked order."""
    return [f"{c}_{i}" for c in cfg.components for i in range(rows(c, cfg))]
