"""A tiny FMA-shaped dataset: `fma_metadata.zip` with a `tracks.csv` in FMA's real layout (two
header rows, then the `track_id` row) and `fma_small.zip` with generated MP3 clips at FMA's
paths (`fma_small/000/000002.mp3`), both bzip2-compressed like the published archives.

Three top genres with 5 small-subset tracks each (3 training, 1 validation, 1 test, every
artist on one side of FMA's split), plus the faults the real archives have: one clip that is
not audio, one far shorter than 30 s; and rows the small subset must ignore (a medium-only
track, a track without a top genre).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from helpers.dvc_repo import set_dotted
from helpers.paths import ROOT
from musicgenre.core.parsing import parse
from musicgenre.data.config import DataConfig
from musicgenre.data.synthetic import render_track

# FMA top genre -> the synthetic recipe that renders it
GENRES = {"Hip-Hop": "hiphop", "Rock": "rock", "Folk": "country"}
SPLITS = ["training", "training", "training", "validation", "test"]
HEADER = [
    ("album", "id"), ("album", "title"), ("artist", "id"), ("artist", "name"),
    ("set", "split"), ("set", "subset"), ("track", "duration"), ("track", "genre_top"),
    ("track", "genres"), ("track", "title"),
]


@dataclass
class FmaFixture:
    metadata_zip: bytes
    audio_zip: bytes
    rows: list[dict] = field(default_factory=list)  # every tracks.csv row
    broken: int = 0  # track id of the clip that is not audio
    short: int = 0  # track id of the 0.5-s clip (under the 1-s floor)

    @property
    def small(self) -> list[dict]:
        return [r for r in self.rows if r["subset"] == "small" and r["genre_top"]]

    @staticmethod
    def sha1(data: bytes) -> str:
        return hashlib.sha1(data).hexdigest()


def mp3_bytes(audio: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    stereo = np.stack([audio, audio], axis=1)  # FMA's clips are mostly 44.1 kHz stereo
    sf.write(buffer, stereo, sr, format="MP3")
    return buffer.getvalue()


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return f'"{text}"' if any(c in text for c in ',"') else text


def tracks_csv(rows: list[dict]) -> str:
    lines = ["," + ",".join(top for top, _ in HEADER),
             "," + ",".join(sub for _, sub in HEADER),
             "track_id" + "," * len(HEADER)]
    for r in rows:
        cells = [r["album_id"], f"Album {r['album_id']}", r["artist_id"], r["artist"],
                 r["split"], r["subset"], r["duration"], r["genre_top"], "[1]", r["title"]]
        lines.append(",".join([str(r["track_id"]), *map(_csv_cell, cells)]))
    return "\n".join(lines) + "\n"


def make_fma(duration_s: float = 6.0, sr: int = 44100, seed: int = 5) -> FmaFixture:
    rows, clips = [], {}
    track_id = 2  # FMA's ids start at 2
    for gi, (genre, recipe) in enumerate(GENRES.items()):
        for i, split in enumerate(SPLITS):
            rng = np.random.default_rng([seed, gi, i])
            # one artist per split side and genre, so FMA's split keeps artists apart
            artist = f"{genre} Artist {split}"
            rows.append({"track_id": track_id, "album_id": 10 + gi, "artist_id": 100 + gi,
                         "artist": artist, "split": split, "subset": "small",
                         "duration": int(duration_s), "genre_top": genre,
                         "title": f"Song, {track_id}"})
            clips[track_id] = mp3_bytes(render_track(recipe, duration_s, sr, rng), sr)
            track_id += 1
    fixture = FmaFixture(b"", b"")
    # the faults: a clip that is not audio, one far shorter than 30 s (both in training)
    for kind in ("broken", "short"):
        rows.append({"track_id": track_id, "album_id": 20, "artist_id": 200,
                     "artist": f"Faulty {kind}", "split": "training", "subset": "small",
                     "duration": 30, "genre_top": "Rock", "title": kind})
        if kind == "broken":
            clips[track_id] = b"\x00\x01 not an mp3 at all" * 64
            fixture.broken = track_id
        else:
            rng = np.random.default_rng([seed, 99])
            clips[track_id] = mp3_bytes(render_track("rock", 0.5, sr, rng), sr)
            fixture.short = track_id
        track_id += 1
    # rows the small subset ignores: a medium-only track, a large track without a top genre
    rows.append({"track_id": track_id, "album_id": 30, "artist_id": 300, "artist": "Medium",
                 "split": "training", "subset": "medium", "duration": 30,
                 "genre_top": "Jazz", "title": "medium only"})
    rows.append({"track_id": track_id + 1, "album_id": 31, "artist_id": 301, "artist": "Large",
                 "split": "test", "subset": "large", "duration": 30, "genre_top": None,
                 "title": "no top genre"})
    fixture.rows = rows
    fixture.metadata_zip, fixture.audio_zip = fma_archives(rows, clips)
    return fixture


def fma_archives(rows: list[dict], clips: dict[int, bytes]) -> tuple[bytes, bytes]:
    """(fma_metadata.zip, fma_small.zip) bytes for these tracks.csv rows and MP3 clips."""
    meta = io.BytesIO()
    with zipfile.ZipFile(meta, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr("fma_metadata/README.txt", "FMA-shaped test metadata\n")
        zf.writestr("fma_metadata/tracks.csv", tracks_csv(rows))
        zf.writestr("fma_metadata/genres.csv", "genre_id,title\n")
    audio = io.BytesIO()
    with zipfile.ZipFile(audio, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr("fma_small/README.txt", "FMA-shaped test audio\n")
        for tid, data in clips.items():
            name = f"{tid:06d}"
            zf.writestr(f"fma_small/{name[:3]}/{name}.mp3", data)
    return meta.getvalue(), audio.getvalue()


def data_config(changes: dict) -> DataConfig:
    """The project's params.yaml `data` section with dotted `data.` changes, parsed."""
    params = set_dotted(yaml.safe_load((ROOT / "params.yaml").read_text()), changes)
    return parse(DataConfig, params["data"], "data")


def fma_params(server_url, fixture: FmaFixture, cache_dir: Path | str) -> dict:
    """Dotted params (as `dvc exp run -S` takes them) that point data.source=fma at the
    fixture served by `server_url(path)`."""
    return {
        "data.source": "fma", "data.fma.subset": "small",
        "data.fma.metadata": {"urls": [server_url("/fma_metadata.zip")],
                              "filename": "fma_metadata.zip",
                              "sha1": fixture.sha1(fixture.metadata_zip)},
        "data.fma.small": {"urls": [server_url("/fma_small.zip")], "filename": "fma_small.zip",
                           "sha1": fixture.sha1(fixture.audio_zip)},
        "data.download.cache_dir": str(cache_dir), "data.download.retries": 0,
    }
