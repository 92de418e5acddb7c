"""Training-set augmentation with audiomentations, seeded per track and copy.

The seed of each augmented copy comes from the global seed, the track id and the copy number
through a stable hash, so the result depends neither on the worker count nor on the order in
which tracks are processed.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

from musicgenre.config import AugmentConfig


def track_seed(seed: int, track_id: str, copy: int) -> int:
    digest = hashlib.sha256(f"{seed}:{track_id}:{copy}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def build_augmenter(cfg: AugmentConfig):
    from audiomentations import AddGaussianSNR, Compose, PitchShift, TimeStretch

    return Compose([
        # The length is kept so an augmented copy has as many segments as its original.
        TimeStretch(min_rate=cfg.time_stretch.low, max_rate=cfg.time_stretch.high,
                    leave_length_unchanged=True, p=cfg.time_stretch.p),
        PitchShift(min_semitones=cfg.pitch_shift.low, max_semitones=cfg.pitch_shift.high,
                   p=cfg.pitch_shift.p),
        AddGaussianSNR(min_snr_db=cfg.noise.low, max_snr_db=cfg.noise.high, p=cfg.noise.p),
    ])


def augment(augmenter, audio: np.ndarray, sample_rate: int, seed: int) -> np.ndarray:
    # audiomentations draws from the global `random` and `numpy.random` generators.
    random.seed(seed)
    np.random.seed(seed)
    out = augmenter(samples=audio, sample_rate=sample_rate)
    return np.ascontiguousarray(out, dtype=np.float32)
