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

# Pretrained networks in the musicnn package (see musicnn.py): the musicnn and VGG-like
# architectures, each trained on the Million Song Dataset's and on MagnaTagATune's 50 tags.
EMBEDDINGS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
# What of a network a segment's embedding is, and its width per architecture: the 50 tag
# probabilities (taggram), the last hidden layer (penultimate; VGG: its flattened last
# pooling), or musicnn's 753 max-pooled mid-level feature maps (no VGG equivalent).
EMBEDDING_LAYERS = {"taggram": {"musicnn": 50, "vgg": 50},
                    "penultimate": {"musicnn": 200, "vgg": 256},
                    "max_pool": {"musicnn": 753}}


def architecture(network: str) -> str:
    return network.split("_", 1)[1]


def embedding_dim(networks: tuple[str, ...], layer: str) -> int:
    """Width of a segment's embedding: the chosen layer of each network, concatenated."""
    return sum(EMBEDDING_LAYERS[layer][architecture(n)] for n in networks)


def rows(component: str, cfg: Any) -> int:
    return ROWS[component](cfg)


def row_names(cfg: Any) -> list[str]:
    """`logmel_0`, `logmel_1`, ...: one name per feature row, in the stacked order."""
    return [f"{c}_{i}" for c in cfg.components for i in range(rows(c, cfg))]
