"""The params.yaml schema: every section, typed and validated, assembled from the packages.

Each package owns the dataclasses of the params it reads (data.config: data, validate, split;
features.config: features, augment, cluster; training.config: train; evaluation.config:
robustness; each model's own section: the config class of its spec in musicgenre.models).
This module sits above them all and only puts them together: `params.yaml` is parsed (by
musicgenre.core.parsing) into those dataclasses. Every stage loads only the sections it declares
in `dvc.yaml`, so an unrelated change never reruns it. Any unknown key, wrong type or
out-of-range value raises `ConfigError` with the dotted key in the message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from musicgenre import models
from musicgenre.core.errors import ConfigError
from musicgenre.core.parsing import parse
from musicgenre.data.config import DataConfig, SplitConfig, ValidateConfig
from musicgenre.data.genres import AUTO
from musicgenre.evaluation.config import RobustnessConfig
from musicgenre.features.config import AugmentConfig, ClusterConfig, FeaturesConfig
from musicgenre.training.config import TrainConfig

# Besides these, one section per registered model, typed by the config dataclass of its
# spec (musicgenre.models).
SECTIONS: dict[str, Any] = {
    "seed": int,
    "model": str,
    "models": list[str],
    "train": TrainConfig,
    "robustness": RobustnessConfig,
    "genres": list[str],  # or the string "auto" (musicgenre.data.genres)
    "data": DataConfig,
    "validate": ValidateConfig,
    "split": SplitConfig,
    "features": FeaturesConfig,
    "augment": AugmentConfig,
    "cluster": ClusterConfig,
}


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: parameters file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_one_line(exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    unknown = sorted(set(raw) - set(SECTIONS) - set(models.names()))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown top-level key in {path}")
    return raw


def load_section(name: str, raw: dict[str, Any] | None = None, path: str | Path = "params.yaml"):
    """Parse and check one top-level section of params.yaml."""
    raw = read_params(path) if raw is None else raw
    if name in SECTIONS:
        section_type = SECTIONS[name]
    elif name in models.names():
        section_type = models.get(name).config  # imports the model's module
    else:
        raise ConfigError(f"{name}: no such parameter section")
    if name not in raw:
        raise ConfigError(f"{name}: missing from {path}")
    if name == "genres" and raw[name] == AUTO:
        return AUTO
    value = parse(section_type, raw[name], name)
    named = {"model": [value], "models": value}.get(name, [])
    for i, model in enumerate(named):
        if model not in models.names():
            where = name if name == "model" else f"models[{i}]"
            raise ConfigError(f"{where}: must be one of {' | '.join(models.names())}, "
                              f"got {model!r}")
    if name == "models" and (not value or len(set(value)) != len(value)):
        raise ConfigError("models: list each model to train once, at least one")
    if name == "genres":
        if len(value) < 2 or len(set(value)) != len(value):
            raise ConfigError("genres: need at least two distinct genre names, or auto")
    return value


def load_params(*names: str, path: str | Path = "params.yaml") -> dict[str, Any]:
    """Parse the named sections (the ones a stage declares in dvc.yaml)."""
    raw = read_params(path)
    params = {name: load_section(name, raw, path) for name in names}
    if "model" in params and "models" in params and params["model"] not in params["models"]:
        raise ConfigError(f"model: '{params['model']}' must also be listed in models "
                          f"({', '.join(params['models'])}) so that it is trained")
    return params



def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
