"""What makes a training batch harder than the data: SpecAugment-style masks and mixup.

Both draw their random numbers on the CPU from generators the training run owns, so the same
seed gives the same batches on any device.
"""

from __future__ import annotations

import numpy as np

from musicgenre.training.config import SpecAugmentConfig


def spec_augment(x, cfg: SpecAugmentConfig, generator):
    """Zero random bands of feature rows and of frames in each example (in place)."""
    import torch

    n, rows, frames = x.shape
    for masks, width, axis, size in ((cfg.freq_masks, cfg.freq_width, 1, rows),
                                     (cfg.time_masks, cfg.time_width, 2, frames)):
        for _ in range(masks):
            w = torch.randint(0, min(width, size) + 1, (n,), generator=generator)
            start = (torch.rand(n, generator=generator) * (size - w + 1)).long()
            pos = torch.arange(size)
            mask = (pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None])
            if axis == 1:
                x.masked_fill_(mask[:, :, None], 0.0)
            else:
                x.masked_fill_(mask[:, None, :], 0.0)
    return x


def soft_targets(labels, n_classes: int, label_smoothing: float):
    """One-hot targets, smoothed towards the uniform distribution by `label_smoothing`."""
    import torch.nn.functional as F

    target = F.one_hot(labels, n_classes).float()
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    return target


def mix_up(x, target, alpha: float, rng: np.random.Generator):
    """Mixup (Zhang et al., 2018): each example blended with another of the batch, and its
    target likewise, by one weight drawn from Beta(alpha, alpha). alpha = 0: unchanged."""
    import torch

    if alpha <= 0:
        return x, target
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x)))
    return lam * x + (1 - lam) * x[perm], lam * target + (1 - lam) * target[perm]
