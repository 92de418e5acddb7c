"""The download stage: turn any data source into one normalised raw layout.

Every source ends as `<raw>/genres/<genre>/<genre>.NNNNN.<ext>` plus `<raw>/source.json`
(provenance: where the audio came from, how it was verified, which original file each track
is, and the class list, see genres.py) and `<raw>/metadata.csv` (per track: artist, where the
artist came from, and the source's own split where it publishes one, as FMA does). The layout
is built under a temporary name and renamed into place only when complete, so an interrupted
run never leaves a half-written `data/raw`.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from musicgenre.core.atomic import atomic_dir, write_json
from musicgenre.core.errors import MusicGenreError
from musicgenre.data import fma
from musicgenre.data import genres as genre_list
from musicgenre.data.artists import GTZAN_NAME, artist_key, resolve_artists
from musicgenre.data.audio import find_audio
from musicgenre.data.config import DataConfig, DownloadConfig, RemoteFile, SplitConfig
from musicgenre.data.fetch import extract_archive, fetch, is_archive
from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.data.tables import METADATA_CSV, write_metadata


def plan_layout(root: Path) -> list[dict]:
    """Map every audio file under `root` to a (genre, id).

    GTZAN-named files (`blues.00012.wav`, as in the official archive, the Kaggle
    `Data/genres_original` copy or a flat folder) keep their ids. Anything else must sit in
    `<genre>/<file>` folders; its tracks are numbered per genre in path order.
    """
    files = find_audio(root)
    if not files:
        raise MusicGenreError(
            f"{root}: no audio files found (.wav .au .flac .ogg .mp3 in <genre>/ folders)"
        )
    if all(GTZAN_NAME.match(f.stem) for f in files):
        entries = [{"genre": GTZAN_NAME.match(f.stem).group(1), "id": f.stem, "src": f}
                   for f in files]
    else:
        entries = []
        counters: Counter[str] = Counter()
        for f in files:
            if f.parent == root:
                raise MusicGenreError(
                    f"{f}: audio file outside a genre folder; expected <genre>/<file> under {root}"
                )
            genre = genre_list.slug(f.parent.name)
            entries.append({"genre": genre, "id": f"{genre}.{counters[genre]:05d}", "src": f})
            counters[genre] += 1
    seen: dict[str, Path] = {}
    for e in entries:
        if e["id"] in seen:
            raise MusicGenreError(f"{e['src']}: same track id '{e['id']}' as {seen[e['id']]}")
        seen[e["id"]] = e["src"]
    return entries


def import_layout(root: Path, genres_dir: Path, cfg: DataConfig, *, move: bool,
                  progress: bool = False) -> list[dict]:
    """Copy (or move, for our own extraction dirs) audio into the normalised layout, with
    each track's artist where it can be known (see `artists.py`)."""
    records = []
    for e in plan_layout(root):
        dest = genres_dir / e["genre"] / f"{e['id']}{e['src'].suffix.lower()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if move:
            os.replace(e["src"], dest)
        else:
            shutil.copyfile(e["src"], dest)
        records.append({"id": e["id"], "genre": e["genre"],
                        "file": dest.relative_to(genres_dir.parent).as_posix(),
                        "original": e["src"].relative_to(root).as_posix()})
    found = resolve_artists([{"id": r["id"], "original": r["original"],
                              "path": genres_dir.parent / r["file"]} for r in records],
                            root, cfg, progress=progress)
    for record, (artist, where) in zip(records, found, strict=True):
        record.update(artist=artist, artist_source=where, source_split=None)
    return records


def _fetch_remote(remote: RemoteFile, cfg: DataConfig, progress: bool) -> Path:
    dl = cfg.download
    return fetch(remote.urls, Path(dl.cache_dir) / remote.filename, **remote.checks(),
                 **dl.retry_policy(), progress=progress)


def _from_archive(archive: Path, work: Path, genres_dir: Path, cfg: DataConfig,
                  progress: bool) -> list[dict]:
    extracted = extract_archive(archive, work / "_extract")
    try:
        return import_layout(extracted, genres_dir, cfg, move=True, progress=progress)
    finally:
        shutil.rmtree(extracted, ignore_errors=True)


def build_raw(cfg: DataConfig, genres: list[str] | str, seed: int, raw_dir: Path,
              progress: bool = True, split: SplitConfig | None = None) -> dict:
    """Materialise `cfg.source` into `raw_dir` and return the provenance record.

    `genres` is the param: a list, or `auto` for the source's own genres (recorded in the
    provenance either way, as `genres`). With `split.method: fault-filtered` the published
    Kereliuk/Sturm lists are fetched too and recorded as each track's `source_split` (every
    download happens here; the split stage only reads)."""
    with atomic_dir(raw_dir) as work:
        genres_dir = work / "genres"
        genres_dir.mkdir()
        make = {"synthetic": _from_synthetic, "gtzan": _from_gtzan, "gtzan-mini": _from_gtzan,
                "fma": _from_fma, "folder": _from_folder}[cfg.source]
        records, classes, provenance = make(cfg, genres, seed, work, progress)
        provenance = {"source": cfg.source, **provenance}
        records.sort(key=lambda r: r["id"])
        if split is not None and split.method == "fault-filtered":
            where = {track: part for part, ids in
                     load_fault_filtered_lists(split, cfg.download, progress).items()
                     for track in ids}
            for record in records:
                record["source_split"] = where.get(record["id"], "")
            provenance["fault_filtered"] = {"base_urls": split.fault_filtered.base_urls,
                                            "sha256": split.fault_filtered.sha256}
        provenance["genres"] = classes
        provenance["n_tracks"] = len(records)
        provenance["tracks_per_genre"] = dict(sorted(Counter(r["genre"] for r in records).items()))
        provenance["artists"] = artist_summary(records, cfg)
        provenance["files"] = records
        write_metadata(records, work / METADATA_CSV)
        write_json(work / "source.json", provenance)
    return provenance


def _from_synthetic(cfg: DataConfig, genres: list[str] | str, seed: int, work: Path,
                    progress: bool) -> tuple[list[dict], list[str], dict]:
    """Generated audio (synthetic.py): (records, genres, provenance) as every source gives."""
    from musicgenre.data.synthetic import generate_dataset

    syn, genres_dir = cfg.synthetic, work / "genres"
    classes = genre_list.resolve(genres, GTZAN_GENRES)
    generate_dataset(genres_dir, classes, syn.tracks_per_genre, syn.duration_s,
                     syn.sample_rate, seed, progress=progress)
    records = [{"id": p.stem, "genre": p.parent.name,
                "file": p.relative_to(work).as_posix(), "original": None,
                "artist": None, "artist_source": None, "source_split": None}
               for p in sorted(genres_dir.glob("*/*.wav"))]
    return records, classes, {"synthetic": {
        "seed": seed, "tracks_per_genre": syn.tracks_per_genre, "duration_s": syn.duration_s,
        "sample_rate": syn.sample_rate}}


def _from_gtzan(cfg: DataConfig, genres: list[str] | str, seed: int, work: Path,
                progress: bool) -> tuple[list[dict], list[str], dict]:
    """The official GTZAN archive or the gtzan-mini one, fetched, verified, extracted."""
    remote = cfg.gtzan if cfg.source == "gtzan" else cfg.gtzan_mini
    archive = _fetch_remote(remote, cfg, progress)
    records = _from_archive(archive, work, work / "genres", cfg, progress)
    return (records, genre_list.resolve(genres, GTZAN_GENRES),
            {"urls": remote.urls, "archive": remote.filename, **_digests(remote)})


def _from_folder(cfg: DataConfig, genres: list[str] | str, seed: int, work: Path,
                 progress: bool) -> tuple[list[dict], list[str], dict]:
    """Your own audio: a directory or a .tar.gz/.zip of <genre>/<file>."""
    path = Path(os.path.expanduser(cfg.path))
    if not path.exists():
        raise MusicGenreError(f"data.path: {path} does not exist")
    if path.is_dir():
        records = import_layout(path, work / "genres", cfg, move=False, progress=progress)
    elif is_archive(path):
        records = _from_archive(path, work, work / "genres", cfg, progress)
    else:
        raise MusicGenreError(f"{path}: neither a directory nor a .tar.gz/.zip archive")
    classes = genre_list.resolve(genres, sorted({r["genre"] for r in records}))
    return records, classes, {"path": str(path.resolve())}


def _from_fma(cfg: DataConfig, genres: list[str] | str, seed: int, work: Path,
              progress: bool) -> tuple[list[dict], list[str], dict]:
    """FMA: the metadata archive's tracks.csv picks the subset's labelled tracks, which are
    extracted from the subset's audio archive."""
    subset = cfg.fma.subset
    tracks = fma.read_metadata(_fetch_remote(cfg.fma.metadata, cfg, progress), work)
    chosen = fma.select_subset(tracks, subset)
    classes = genre_list.resolve(genres, sorted(chosen["genre"].unique()))
    archive = _fetch_remote(cfg.fma.audio, cfg, progress)
    records = fma.import_tracks(archive, chosen, subset, work / "genres", classes, progress)
    return records, classes, {"fma": {
        "subset": subset, "metadata": {"urls": cfg.fma.metadata.urls, **_digests(cfg.fma.metadata)},
        "audio": {"urls": cfg.fma.audio.urls, **_digests(cfg.fma.audio)}}}


def _digests(remote: RemoteFile) -> dict:
    """The checksums a remote file was verified with, for the provenance record."""
    return {k: v for k, v in remote.checks().items() if v and k != "expected_bytes"}


def artist_summary(records: list[dict], cfg: DataConfig) -> dict:
    """How many tracks have a known artist, from where, and how many artists there are."""
    known = [r for r in records if r["artist"]]
    index = cfg.artists.gtzan_index
    return {"tracks_with_artist": len(known), "tracks_without_artist": len(records) - len(known),
            "artists": len({artist_key(r["artist"]) for r in known}),
            "from": dict(sorted(Counter(r["artist_source"] for r in known).items())),
            "gtzan_index": None if index is None else {"urls": index.urls,
                                                       "sha256": index.sha256}}


FAULT_FILTERED_FILES = {"train": "train_filtered.txt", "val": "valid_filtered.txt",
                        "test": "test_filtered.txt"}


def load_fault_filtered_lists(cfg: SplitConfig, dl: DownloadConfig,
                              progress: bool = False) -> dict[str, list[str]]:
    """Fetch the Kereliuk/Sturm lists (verified by sha256) into the download cache; return
    split -> track ids."""
    lists = {}
    for split, name in FAULT_FILTERED_FILES.items():
        path = fetch([base.rstrip("/") + "/" + name for base in cfg.fault_filtered.base_urls],
                     Path(dl.cache_dir) / "gtzan-fault-filtered" / name,
                     sha256=cfg.fault_filtered.sha256[name], **dl.retry_policy(),
                     progress=progress)
        lists[split] = [Path(line.strip()).stem for line in path.read_text().splitlines()
                        if line.strip()]
    return lists
