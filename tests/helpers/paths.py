"""Where the project and the real GTZAN audio are."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def real_data_root() -> Path | None:
    """../shared/data (or $GENRE_REAL_DATA) when it holds the GTZAN dev tracks."""
    for candidate in (os.environ.get("GENRE_REAL_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "gtzan-dev" / "genres").is_dir():
            return Path(candidate)
    return None
