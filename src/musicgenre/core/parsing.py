"""Typed values from YAML: a mapping checked against a dataclass, field by field.

`parse(SomeConfig, mapping, "key")` builds the dataclass, converting and checking every
value against its type hint (int, float, bool, str, Literal, lists, dicts, optionals, nested
dataclasses) and then calling the dataclass's own `check(key)` if it has one. Unknown keys,
missing keys and wrong types raise `ConfigError` naming the dotted key. Used for
`params.yaml` and for the configs stored in checkpoints alike.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from musicgenre.core.errors import ConfigError


def parse(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, value, key)
    if origin is Literal:
        if value not in args:
            allowed = " | ".join(str(a) for a in args)
            raise ConfigError(f"{key}: must be one of {allowed}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return parse(inner[0], value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_describe(value)}")
        return [parse(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {_describe(value)}")
        return {str(k): parse(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported parameter type {tp!r} for {key}")  # a bug, not user error


def _parse_dataclass(cls: Any, value: Any, key: str) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {_describe(value)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in value:
        if name not in fields:
            raise ConfigError(f"{key}.{name}: unknown key (known: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = parse(hints[name], value[name], f"{key}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}.{name}: missing")
    obj = cls(**kwargs)
    if hasattr(obj, "check"):
        obj.check(key)
    return obj


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def positive(key: str, name: str, value: float) -> None:
    """The check every schema uses for a value that must be above zero."""
    if value <= 0:
        raise ConfigError(f"{key}.{name}: must be > 0, got {value}")


def is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
