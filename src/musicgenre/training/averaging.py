"""An exponential moving average of a network's weights: what is validated and saved."""

from __future__ import annotations

import copy


class WeightAverage:
    """An exponential moving average of a model's weights (and batch-norm statistics).

    On small data the weights swing from epoch to epoch (docs/results.md shows how far); the
    average sits in the middle of those swings. It is what gets
    validated, early-stopped and saved. The decay warms up so early steps are not dominated
    by the random initial weights.
    """

    def __init__(self, model, horizon_steps: float) -> None:
        self.model = copy.deepcopy(model).eval()
        self.decay = 1.0 - 1.0 / horizon_steps
        self.updates = 0
        # state_dict tensors share storage with the live ones: pair them once, not every step.
        self.pairs = list(zip(self.model.state_dict().values(), model.state_dict().values(),
                              strict=True))

    def update(self) -> None:
        """Fold the tracked model's current weights into the average (after each step)."""
        import torch

        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        with torch.no_grad():
            for avg, new in self.pairs:
                if avg.is_floating_point():
                    avg.lerp_(new, 1.0 - decay)
                else:  # counters such as num_batches_tracked
                    avg.copy_(new)
