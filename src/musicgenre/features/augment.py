"""Training-set augmentation with audiomentations, seeded per track and copy.

The seed of each augmented copy comes from the global seed, the track id and the copy number
through a stable hash, so the result depends neither on the worker count, nor on the order in
which tracks are processed, nor on where (a local process or a Dask worker).
"""

from __future__ import annotations

import hashlib
import random
import sys
import threading
from contextlib import contextmanager

import numpy as np

from musicgenre.features.config import AugmentConfig


def track_seed(seed: int, track_id: str, copy: int) -> int:
    digest = hashlib.sha256(f"{seed}:{track_id}:{copy}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def build_augmenter(cfg: AugmentConfig):
    from audiomentations import (
        AddGaussianSNR,
        Compose,
        LowPassFilter,
        Mp3Compression,
        PitchShift,
        TimeStretch,
    )

    # off transforms (p = 0) are left out: each would still draw from the generator and
    # change every other copy's randomness
    optional = [LowPassFilter(min_cutoff_freq=cfg.low_pass.low, max_cutoff_freq=cfg.low_pass.high,
                              p=cfg.low_pass.p) if cfg.low_pass.p > 0 else None,
                Mp3Compression(min_bitrate=int(cfg.mp3.low), max_bitrate=int(cfg.mp3.high),
                               p=cfg.mp3.p) if cfg.mp3.p > 0 else None]
    return Compose([
        # The length is kept so an augmented copy has as many segments as its original.
        TimeStretch(min_rate=cfg.time_stretch.low, max_rate=cfg.time_stretch.high,
                    leave_length_unchanged=True, p=cfg.time_stretch.p),
        PitchShift(min_semitones=cfg.pitch_shift.low, max_semitones=cfg.pitch_shift.high,
                   p=cfg.pitch_shift.p),
        AddGaussianSNR(min_snr_db=cfg.noise.low, max_snr_db=cfg.noise.high, p=cfg.noise.p),
        *[t for t in optional if t is not None],
    ])


_ONE_AT_A_TIME = threading.Lock()


def augment(augmenter, audio: np.ndarray, sample_rate: int, seed: int) -> np.ndarray:
    """One augmented copy of `audio`, the same for the same seed in any process or thread.

    audiomentations draws from the module-level `random` and `numpy.random` generators.
    Python's is shared with every other thread of the process, and a Dask worker's event loop
    draws from it while a job runs (measured: other augmentations on a cluster), so for this
    call audiomentations' modules get a private generator seeded alike, which gives the same
    numbers a seeded global one would. numpy's global generator is seeded under a lock (no
    other thread draws from it)."""
    private = random.Random(seed)
    with _ONE_AT_A_TIME, _audiomentations_random(private):
        np.random.seed(seed)
        out = augmenter(samples=audio, sample_rate=sample_rate)
    return np.ascontiguousarray(out, dtype=np.float32)


@contextmanager
def _audiomentations_random(generator: random.Random):
    """Point the `random` name of every loaded audiomentations module at `generator`."""
    # a copy in one step: another thread (a Dask worker's) may import while we look
    modules = [m for name, m in sys.modules.copy().items()
               if name.split(".")[0] == "audiomentations" and vars(m).get("random") is random]
    for module in modules:
        module.random = generator
    try:
        yield
    finally:
        for module in modules:
            module.random = random
