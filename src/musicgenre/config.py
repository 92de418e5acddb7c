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


def load_params(*names: str, path: str | Path = "params.yaml",
                raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parse the named sections (the ones a stage declares in dvc.yaml) of the file at `path`
    (or of `raw`, the file's contents already read)."""
    raw = read_params(path) if raw is None else raw
    params = {name: load_section(name, raw, path) for name in names}
    if "model" in params and "models" in params and params["model"] not in params["models"]:
        raise ConfigError(f"model: '{params['model']}' must also be listed in models "
                          f"({', '.join(params['models'])}) so that it is trained")
    return params



def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def set_params(assignments: list[str], path: str | Path = "params.yaml") -> dict[str, Any]:
    """Write `key.path=value` assignments (YAML values, as `dvc exp run -S` takes them) into
    the parameters file, changing those values only: comments, flow lists and the layout stay
    as written (a ruamel.yaml round trip), so `git diff` shows just the changed lines. Every
    section is checked with the new values first; on any error the file is not touched.
    Returns {key: new value}."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from musicgenre.core.atomic import write_text_atomic

    path = Path(path)
    read_params(path)  # the file as it stands must be readable first
    rt = YAML()  # round trip: keeps comments, key order and flow style
    rt.width = 4096  # never re-wrap a long line
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.representer.add_representer(  # `null` stays `null`, not an empty value
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    doc = rt.load(path.read_text())
    changed = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"{assignment!r}: expected key=value, e.g. data.source=synthetic")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{key}: not a YAML value ({_one_line(exc)})") from None
        *parents, leaf = key.split(".")
        node = doc
        for i, part in enumerate(parents):
            if i and part not in node:  # a key with its default in the code, added here
                node[part] = CommentedMap()
            node = node.get(part)
            if not isinstance(node, dict):
                raise ConfigError(f"{'.'.join(parents[:i + 1])}: not a section of {path}")
        changed[key] = value
        if isinstance(value, list | dict):  # a flow list stays a flow list
            old = node.get(leaf)
            value = (CommentedSeq(value) if isinstance(value, list) else CommentedMap(value))
            if getattr(getattr(old, "fa", None), "flow_style", False):
                value.fa.set_flow_style()
        node[leaf] = value
    buffer = io.StringIO()
    rt.dump(doc, buffer)
    text = buffer.getvalue()
    raw = yaml.safe_load(text)
    load_params(*raw, path=path, raw=raw)  # every section as the stages will read it
    write_text_atomic(path, text)
    return changed
