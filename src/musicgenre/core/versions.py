"""The versions behind a result, recorded beside it (checkpoints, feature metadata)."""

from __future__ import annotations

import importlib
import sys

DISPLAY_NAMES = {"sklearn": "scikit-learn"}  # import name -> the name people install


def package_versions(*modules: str) -> dict[str, str]:
    """{"torch": "2.13.0+cpu", ..., "python": "3.11.x"} for the named (imported) modules."""
    found = {DISPLAY_NAMES.get(m, m): str(importlib.import_module(m).__version__)
             for m in modules}
    return {**found, "python": sys.version.split()[0]}
