"""Who performed each track, so that splits and folds can keep an artist on one side.

GTZAN is ordered by artist inside each genre (all ten of blues.00000-00009 are John Lee
Hooker), so a split by track mostly tests artists the model has already heard. Artists come
from, in this order of precedence:

1. `artists.csv` beside the audio (columns `file,artist`; `file` relative to the folder, or
   a bare file name), for a user's own music;
2. the file's own artist tag (read with mutagen), unless `data.artists.tags` is false;
3. Sturm's GTZAN index (B. L. Sturm, MIRUM 2012), fetched and sha256-checked, for tracks
   with GTZAN names (`blues.00012`).

A track with no known artist is its own group. Names are compared case- and
space-insensitively ("De La Soul" == "de la  soul"); nothing fuzzier, so "Bob Marley" and
"Bob Marley & The Wailers" stay two artists.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from musicgenre.core.errors import MusicGenreError
from musicgenre.data.config import DataConfig
from musicgenre.data.fetch import fetch, verify

ARTISTS_CSV = "artists.csv"
GTZAN_NAME = re.compile(r"^([a-z]+)\.(\d{5})$")
SOURCE_CSV, SOURCE_TAGS, SOURCE_INDEX = "artists.csv", "tags", "sturm-index"


def artist_key(name: str | None) -> str | None:
    """The form artists are grouped by: case-folded, runs of spaces collapsed (None, NaN from
    a CSV's empty cell, or blank: unknown)."""
    if not isinstance(name, str):
        return None
    key = " ".join(name.split()).casefold()
    return key or None


def read_gtzan_index(path: Path) -> dict[str, str]:
    """Track id -> artist from Sturm's `GTZANindex.txt` (`blues.00000.wav ::: artist ::: title`).

    Tracks the index leaves blank (81 of 1000) are left out.
    """
    artists = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise MusicGenreError(f"{path}: cannot read the GTZAN artist index ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(":::")]
        if len(fields) < 2 or not GTZAN_NAME.match(Path(fields[0]).stem):
            raise MusicGenreError(f"{path}: line {number} is not '<genre>.NNNNN.wav ::: artist "
                                  f"::: title': {line[:60]!r}")
        if fields[1]:
            artists[Path(fields[0]).stem] = fields[1]
    if not artists:
        raise MusicGenreError(f"{path}: no artists in the GTZAN artist index")
    return artists


def load_gtzan_index(cfg: DataConfig, local: Path | None = None,
                     progress: bool = False) -> dict[str, str]:
    """Sturm's index from a local copy (checked like a download) or fetched into the cache."""
    remote, dl = cfg.artists.gtzan_index, cfg.download
    if remote is None:
        return {}
    if local is not None:
        verify(Path(local), **remote.checks())
        return read_gtzan_index(Path(local))
    path = fetch(remote.urls, Path(dl.cache_dir) / "gtzan-artists" / remote.filename,
                 **remote.checks(), **dl.retry_policy(), progress=progress)
    return read_gtzan_index(path)


def read_artists_csv(path: Path) -> dict[str, str]:
    """`file,artist` rows -> {file as written: artist}; blank artists are left out."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            columns = set(rows[0]) if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MusicGenreError(f"{path}: cannot read ({exc})") from None
    if rows and not {"file", "artist"} <= columns:
        raise MusicGenreError(f"{path}: needs the columns 'file' and 'artist', "
                              f"has {', '.join(sorted(columns))}")
    return {row["file"].strip(): row["artist"].strip() for row in rows
            if (row.get("artist") or "").strip()}


def tag_artist(path: Path) -> str | None:
    """The artist tag of an audio file (ID3, Vorbis, FLAC, RIFF INFO...), or None."""
    import mutagen

    try:
        audio = mutagen.File(path, easy=True)
    except Exception:  # noqa: BLE001 - a broken tag only means "artist unknown"
        return None
    tags = getattr(audio, "tags", None)
    if not tags:
        return None
    for key in ("artist", "albumartist", "TPE1", "TPE2", "IART"):
        try:
            value = tags.get(key)
        except (KeyError, ValueError, TypeError):
            value = None
        if value is None:
            continue
        text = getattr(value, "text", value)
        text = text[0] if isinstance(text, list) and text else text
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def resolve_artists(tracks: list[dict], root: Path, cfg: DataConfig,
                    local_index: Path | None = None,
                    progress: bool = False) -> list[tuple[str | None, str | None]]:
    """(artist, where it came from) for each track.

    `tracks` are dicts with `id`, `original` (path relative to `root`, or None) and `path`
    (the file to read tags from).
    """
    table = read_artists_csv(Path(root) / ARTISTS_CSV) if (Path(root) / ARTISTS_CSV).is_file() \
        else {}
    found: list[tuple[str | None, str | None]] = []
    for t in tracks:
        original = t.get("original")
        name = table.get(original) if original else None
        if name is None and original:
            name = table.get(Path(original).name)
        if name is not None:
            found.append((name, SOURCE_CSV))
            continue
        name = tag_artist(Path(t["path"])) if cfg.artists.tags else None
        found.append((name, SOURCE_TAGS) if name else (None, None))
    needs_index = [i for i, (name, _) in enumerate(found)
                   if name is None and GTZAN_NAME.match(tracks[i]["id"])]
    if needs_index and cfg.artists.gtzan_index is not None:
        try:
            index = load_gtzan_index(cfg, local_index, progress)
        except MusicGenreError as exc:
            raise MusicGenreError(
                f"{exc} (the GTZAN artist index is needed for artist-grouped splits; offline, "
                f"put {ARTISTS_CSV} beside the audio or set data.artists.gtzan_index: null "
                f"and split.group_by: track)") from None
        for i in needs_index:
            if tracks[i]["id"] in index:
                found[i] = (index[tracks[i]["id"]], SOURCE_INDEX)
    return found
