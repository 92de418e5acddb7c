"""Shrunk model and training configs, so tests train in seconds."""

from __future__ import annotations

SMALL_MODELS = {
    "cnn": {"channels": [8, 16, 32, 32], "dense": 32},
    "rnn": {"hidden": 32, "layers": 1},
    "crnn": {"channels": [8, 16, 32, 32], "rnn_hidden": 16},
}


def small_model_cfg(name):
    from dataclasses import replace

    from musicgenre import models

    return replace(models.get(name).config(), **SMALL_MODELS[name])


def _fast_train():
    from musicgenre.training.config import TrainConfig

    # 4 random crops per track version and epoch: ~20 steps an epoch on this data
    return TrainConfig(epochs=25, crops_per_track=4, min_epoch_crops=0, batch_size=32,
                       patience=5, min_epochs=5)


FAST_TRAIN = _fast_train()


def fit(name, data, out, live, seed=3, train=None, model_cfg=None, **kwargs):
    """fit_model (the train stage's own path) with a shrunk config: the model's small config
    (or `model_cfg`) and FAST_TRAIN (or `train`); returns the fitted Classifier."""
    from musicgenre import models
    from musicgenre.training.fit import fit_model

    spec = models.get(name)
    if model_cfg is None:
        model_cfg = small_model_cfg(name) if name in SMALL_MODELS else spec.config()
    params = {"seed": seed, "train": train or FAST_TRAIN, name: model_cfg}
    return fit_model(spec, params, data, out, live, progress=False, **kwargs)
