"""The Free Music Archive dataset (FMA; Defferrard et al., ISMIR 2017) as a data source.

`fma_metadata.zip` holds `tracks.csv`: one row per track with a two-level column header
(`track,genre_top`, `artist,name`, `set,split`, `set,subset`, ...). The subsets nest
(small within medium within large): subset `medium` is every track whose `set,subset` is small
or medium. A track's class is its `genre_top`; tracks without one (about half of fma_large)
cannot be labelled and are left out. `set,split` is FMA's own training/validation/test split,
made so that no artist is on two sides of it; `split.method: official` uses it.

Audio sits in `fma_<subset>.zip` as `fma_<subset>/<first 3 digits>/<6-digit id>.mp3`. Only the
selected tracks are extracted, each straight to its place in the raw layout; member names are
checked like any archive's. Some published clips have no audio or are far shorter than 30 s
(FMA's errata list them); they are extracted like the rest, and the validate stage reports and
drops them by policy.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

import pandas as pd
from tqdm import tqdm

from musicgenre.core.errors import ArchiveError, MusicGenreError
from musicgenre.data.fetch import check_member
from musicgenre.data.genres import slug

SUBSETS = ("small", "medium", "large")
SPLIT_NAMES = {"training": "train", "validation": "val", "test": "test"}
TRACKS_CSV = "tracks.csv"
COLUMNS = {("track", "genre_top"): "genre_top", ("artist", "name"): "artist",
           ("set", "split"): "split", ("set", "subset"): "subset"}


def read_tracks(path: Path) -> pd.DataFrame:
    """FMA's `tracks.csv` as one row per track: track_id, genre_top, artist, split, subset."""
    try:
        raw = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise MusicGenreError(f"{path}: cannot read FMA's tracks.csv ({exc})") from None
    missing = [f"{a},{b}" for a, b in COLUMNS if (a, b) not in raw.columns]
    if missing:
        raise MusicGenreError(f"{path}: not FMA's tracks.csv (two header rows, no column "
                              f"{', '.join(missing)})")
    tracks = raw[list(COLUMNS)].copy()
    tracks.columns = list(COLUMNS.values())
    tracks.index = pd.to_numeric(tracks.index, errors="coerce")
    tracks = tracks[tracks.index.notna()]
    tracks.index = tracks.index.astype(int).rename("track_id")
    return tracks.reset_index()


def select_subset(tracks: pd.DataFrame, subset: str) -> pd.DataFrame:
    """The tracks of `subset` (which contains the smaller subsets) that have a top genre."""
    within = SUBSETS[: SUBSETS.index(subset) + 1]
    chosen = tracks[tracks["subset"].isin(within) & tracks["genre_top"].notna()].copy()
    if chosen.empty:
        raise MusicGenreError(f"FMA tracks.csv: no track with a top genre in subset '{subset}'")
    chosen["genre"] = chosen["genre_top"].map(slug)
    chosen["source_split"] = chosen["split"].map(SPLIT_NAMES).fillna("")
    return chosen.sort_values("track_id").reset_index(drop=True)


def member_name(subset: str, track_id: int) -> str:
    tid = f"{track_id:06d}"
    return f"fma_{subset}/{tid[:3]}/{tid}.mp3"


def read_metadata(archive: Path, work: Path) -> pd.DataFrame:
    """Extract only `tracks.csv` from `fma_metadata.zip` and read it."""
    with _open_zip(archive) as zf:
        names = [n for n in zf.namelist() if PurePosixPath(n).name == TRACKS_CSV]
        if not names:
            raise ArchiveError(f"{archive}: no {TRACKS_CSV} inside (is this fma_metadata.zip?)")
        target = work / TRACKS_CSV
        _copy_member(zf, names[0], target, archive)
    try:
        return read_tracks(target)
    finally:
        target.unlink(missing_ok=True)


def import_tracks(archive: Path, chosen: pd.DataFrame, subset: str, genres_dir: Path,
                  genres: list[str], progress: bool = False) -> list[dict]:
    """Extract the chosen tracks of `genres` into `<genres_dir>/<genre>/<genre>.<id>.mp3`;
    one record per track (id, genre, file, original, artist, source_split)."""
    chosen = chosen[chosen["genre"].isin(genres)]
    records = []
    with _open_zip(archive) as zf:
        present = set(zf.namelist())
        missing = [member_name(subset, t) for t in chosen["track_id"]
                   if member_name(subset, t) not in present]
        if missing:
            raise ArchiveError(f"{archive}: {len(missing)} track(s) of tracks.csv's subset "
                               f"'{subset}' are not in the archive (first: {missing[0]}); is "
                               f"this fma_{subset}.zip?")
        for row in tqdm(chosen.itertuples(index=False), total=len(chosen), unit="track",
                        desc=f"extract fma_{subset}", disable=not progress):
            name = member_name(subset, row.track_id)
            track_id = f"{row.genre}.{row.track_id:06d}"
            dest = genres_dir / row.genre / f"{track_id}.mp3"
            _copy_member(zf, name, dest, archive)
            artist = row.artist if isinstance(row.artist, str) and row.artist.strip() else None
            records.append({"id": track_id, "genre": row.genre,
                            "file": dest.relative_to(genres_dir.parent).as_posix(),
                            "original": name, "artist": artist,
                            "artist_source": "fma-metadata" if artist else None,
                            "source_split": row.source_split})
    return records


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{archive}: not a readable zip archive ({exc})") from None


def _copy_member(zf: zipfile.ZipFile, name: str, dest: Path, archive: Path) -> None:
    """Stream one member to `dest` (FMA's archives are bzip2-compressed zips; Python reads
    them), never holding a whole file in memory."""
    check_member(name, archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zf.open(name) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        dest.unlink(missing_ok=True)
        raise ArchiveError(f"{archive}: cannot extract {name} ({exc})") from None
