"""The tables the data stages hand each other, read and written in one place.

    download  -> data/raw/metadata.csv     id, artist, artist_source, source_split
                 data/raw/source.json      where the audio came from, the genre list
    validate  -> data/interim/manifest.csv one row per file: what it is and whether it is kept
    split     -> data/interim/split.csv    id, genre, artist, split (train | val | test)

Later stages read them through these functions only, so a column or a file name changes here
and nowhere else. (The feature store the features stage writes has its own module,
features/store.py.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musicgenre.core.atomic import atomic_path, write_json
from musicgenre.core.errors import MusicGenreError

SPLITS = ("train", "val", "test")

METADATA_CSV = "metadata.csv"
METADATA_COLUMNS = ["id", "artist", "artist_source", "source_split"]

MANIFEST_COLUMNS = ["id", "genre", "artist", "source_split", "path", "format", "sample_rate",
                    "channels", "frames", "duration_s", "rms_dbfs", "md5", "readable", "error",
                    "keep", "problems"]


def write_metadata(records: list[dict], path: Path) -> None:
    """`id,artist,artist_source,source_split` for every track (blank where unknown), read
    by validate."""
    frame = pd.DataFrame([{c: r.get(c) or "" for c in METADATA_COLUMNS} for r in records],
                         columns=METADATA_COLUMNS)
    frame.to_csv(path, index=False)


def read_metadata(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The download stage's metadata.csv as strings ('' where unknown), with `id` and the
    asked-for columns checked present."""
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    if not {"id", *columns} <= set(table.columns):
        raise MusicGenreError(f"{path}: needs the columns id, {', '.join(columns)}")
    return table


def write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        manifest[MANIFEST_COLUMNS].to_csv(tmp, index=False)


def read_manifest(path: Path, kept_only: bool = True) -> pd.DataFrame:
    """The validate stage's manifest: by default only the files validation kept."""
    try:
        manifest = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise MusicGenreError(f"{path}: manifest not found; run the validate stage first") from None
    return manifest[manifest["keep"]].reset_index(drop=True) if kept_only else manifest


def write_split(table: pd.DataFrame, counts: pd.DataFrame, split_path: Path,
                counts_path: Path, protocol: dict | None = None,
                protocol_path: Path | None = None) -> None:
    """The split table (without md5), its per-genre counts and, optionally, its protocol."""
    for frame, path in ((table.drop(columns=["md5"], errors="ignore"), split_path),
                        (counts, counts_path)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    if protocol_path is not None:
        write_json(protocol_path, protocol)


def read_split(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise MusicGenreError(f"{path}: split not found; run the split stage first") from None
