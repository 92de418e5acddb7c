"""Where the project and the real GTZAN audio are."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# Where real GTZAN audio is looked for when $GENRE_REAL_DATA is not set (README, Makefile).
DEFAULT_REAL_DATA = ROOT / "data" / "real"


def real_data_root() -> Path | None:
    """$GENRE_REAL_DATA (default: data/real in the checkout) when it holds the GTZAN dev
    tracks."""
    root = Path(os.environ.get("GENRE_REAL_DATA") or DEFAULT_REAL_DATA)
    return root if (root / "gtzan-dev" / "genres").is_dir() else None
