"""When to stop training a network, and which epoch to keep."""

from __future__ import annotations

from musicgenre.training.config import TrainConfig


class EarlyStopping:
    """Watches the validation loss after each epoch; keeps the best epoch's weights.

    A validation set of a few tracks can score an underfit early epoch best by chance
    (docs/results.md has a case), so, like Keras' start_from_epoch, the watch starts at
    `min_epochs` (or the last epoch, if that comes first). An epoch counts as better only if
    its loss drops by more than `min_delta`: a loss still creeping down by crumbs is not worth
    more epochs. Training stops after `patience` epochs without a better one, or at once when
    there is nothing left to learn: every validation track right with a loss of at most
    `stop_val_loss` (synthetic data gets there in a few epochs; real music with more than a
    handful of validation tracks does not), that epoch kept, min_epochs or not.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.best_loss = float("inf")
        self.best_epoch = -1
        self.best_metrics: dict = {}
        self.best_state: dict | None = None
        self.waited = 0

    def update(self, epoch: int, metrics: dict, network) -> bool:
        """Record epoch `epoch` (counted from 1) with its metrics (`val/loss`,
        `val/track_accuracy`) and the network validated; True when training should stop."""
        cfg, loss = self.cfg, metrics["val/loss"]
        solved = metrics["val/track_accuracy"] == 1.0 and loss <= cfg.stop_val_loss
        watching = solved or epoch >= min(cfg.min_epochs, cfg.epochs)
        if watching and loss < self.best_loss - max(cfg.min_delta, 1e-4):
            state = getattr(network, "module", network).state_dict()
            self.best_loss, self.best_epoch, self.best_metrics = loss, epoch, metrics
            self.best_state = {k: v.detach().cpu().clone() for k, v in state.items()}
            self.waited = 0
        elif watching:
            self.waited += 1
        return self.waited >= cfg.patience or (solved and self.best_epoch == epoch)
