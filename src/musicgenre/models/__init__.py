"""The model registry: every model the pipeline can train, by the name params.yaml uses.

Each model is one module in this package defining `SPEC`, a `ModelSpec` (see spec.py); the
params schema, training, evaluation, checkpoints, predict and crossval are all derived from
it. Adding a model: write its module and add one line to REGISTRY (plus its params section).
Modules are imported on first use, so reading the names does not import torch.
"""

from __future__ import annotations

import importlib

from musicgenre.core.errors import ConfigError
from musicgenre.models.spec import ModelSpec

REGISTRY: dict[str, str] = {  # name in params.yaml -> the module that defines its SPEC
    "cnn": "musicgenre.models.cnn",
    "rnn": "musicgenre.models.rnn",
    "crnn": "musicgenre.models.crnn",
    "baseline": "musicgenre.models.baseline",
    "transfer": "musicgenre.models.transfer",
}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> ModelSpec:
    """The spec of a registered model; ConfigError for an unknown name."""
    if name not in REGISTRY:
        raise ConfigError(f"model '{name}' is not registered (known: {', '.join(REGISTRY)})")
    spec = importlib.import_module(REGISTRY[name]).SPEC
    if spec.name != name:
        raise TypeError(f"{REGISTRY[name]}.SPEC is named {spec.name!r}, registered as {name!r}")
    return spec


def register(name: str, module: str) -> None:
    """Add a model defined outside this package (a plugin, or a test's tiny model)."""
    REGISTRY[name] = module
