"""The class list: the `genres` param, or (`genres: auto`) the genres of the data source.

`auto` means: GTZAN's ten for gtzan, gtzan-mini and synthetic; the top genres of the chosen
FMA subset (8 for small, 16 for medium and large); the genre folders of your own music. The
download stage resolves it once and records the list in `data/raw/source.json`; later stages
read it from there, so every stage, checkpoint and report uses the same list in the same order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from musicgenre.core.errors import MusicGenreError

AUTO = "auto"  # genres: auto, the data source's own genres
GTZAN_GENRES = [
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
]  # fmt: skip


def slug(name: str) -> str:
    """A genre name as a folder name and class label: 'Old-Time / Historic' ->
    'old-time_historic', 'Hip-Hop' -> 'hip-hop'."""
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_")


def resolve(param: list[str] | str, found: list[str]) -> list[str]:
    """The class list for the download stage: the param's list, or the source's own genres."""
    if param != AUTO:
        return list(param)
    if len(found) < 2:
        raise MusicGenreError(f"genres: auto found {len(found)} genre(s) in the data source "
                              f"({', '.join(found) or 'none'}); need at least two")
    return sorted(found)


def read(param: list[str] | str, source_json: Path) -> list[str]:
    """The class list for a stage after download: the param's list, or the one the download
    stage recorded."""
    if param != AUTO:
        return list(param)
    try:
        recorded = json.loads(Path(source_json).read_text()).get("genres")
    except FileNotFoundError:
        raise MusicGenreError(f"{source_json}: not found; run the download stage first "
                              "(genres: auto reads the genres it recorded)") from None
    if not recorded:
        raise MusicGenreError(f"{source_json}: records no genres; rerun the download stage")
    return list(recorded)
