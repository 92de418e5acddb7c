"""Helpers shared by the benchmark scripts: test audio and a plain table printer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def audio_folder(tmp: Path) -> tuple[Path, str]:
    """Real GTZAN dev tracks when available, else freshly generated synthetic ones."""
    from helpers.paths import real_data_root

    root = real_data_root()
    if root is not None:
        return root / "gtzan-dev" / "genres", "real GTZAN dev tracks (30 s)"
    from musicgenre.data.genres import GTZAN_GENRES
    from musicgenre.data.synthetic import generate_dataset

    out = tmp / "genres"
    generate_dataset(out, GTZAN_GENRES, 5, 30.0, 22050, seed=0, progress=False)
    return out, "synthetic tracks (30 s)"


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
