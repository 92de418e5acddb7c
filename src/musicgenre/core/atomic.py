"""Write a file completely or not at all: into a temporary sibling, renamed when done."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield `<path>.tmp` to write to; it replaces `path` only if the block succeeds, so an
    interrupted writer never leaves a half-written file under the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, value, indent: int = 2) -> None:
    """`value` as JSON (numpy numbers and arrays as plain ones), written atomically."""
    write_text_atomic(path, json.dumps(value, indent=indent, default=_plain) + "\n")


def _plain(value):
    import numpy as np

    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty `.<name>.tmp` sibling directory to fill; it replaces `path` only if the
    block succeeds (an interrupted stage leaves the old directory, or none, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
