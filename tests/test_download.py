"""The folder source: GTZAN, Kaggle and plain layouts, archives, every supported format."""

import json
import shutil
import zipfile

import numpy as np
import pytest
import soundfile as sf

from musicgenre.core.errors import MusicGenreError
from musicgenre.data.config import ArtistsConfig, DataConfig
from musicgenre.data.download import build_raw
from musicgenre.data.synthetic import RECIPES, render_track
from musicgenre.data.validate import scan_folder


def folder_cfg(path) -> DataConfig:
    # no Sturm index (no internet here): these tests are about the audio, not the artists
    return DataConfig(source="folder", path=str(path), artists=ArtistsConfig(gtzan_index=None))


def test_gtzan_layout_directory(real_genres_dir, tmp_path):
    provenance = build_raw(folder_cfg(real_genres_dir), [], 0, tmp_path / "raw", progress=False)
    assert provenance["n_tracks"] == 50
    assert set(provenance["tracks_per_genre"].values()) == {5}
    assert (tmp_path / "raw/genres/jazz/jazz.00005.wav").exists()
    saved = json.loads((tmp_path / "raw/source.json").read_text())
    assert saved["source"] == "folder" and len(saved["files"]) == 50


def test_kaggle_layout_zip_with_corrupt_track(synthetic_genres_dir, tmp_path):
    archive = tmp_path / "kaggle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for wav in sorted(synthetic_genres_dir.glob("*/*.wav")):
            zf.write(wav, f"Data/genres_original/{wav.parent.name}/{wav.name}")
        zf.writestr("Data/genres_original/jazz/jazz.00054.wav", b"not a RIFF file")
        zf.writestr("Data/features_30_sec.csv", "filename,label\n")
    provenance = build_raw(folder_cfg(archive), [], 0, tmp_path / "raw", progress=False)
    assert provenance["n_tracks"] == 31
    assert (tmp_path / "raw/genres/jazz/jazz.00054.wav").exists()
    # The corrupt file reaches validation, which names it instead of crashing.
    manifest = scan_folder(tmp_path / "raw/genres", progress=False)
    bad = manifest[~manifest["readable"]]
    assert bad["id"].tolist() == ["jazz.00054"]
    assert "not a readable audio file" in bad["error"].iloc[0]


@pytest.mark.parametrize("ext", [".wav", ".au", ".flac", ".ogg", ".mp3"])
def test_plain_layout_every_format(tmp_path, ext):
    src = tmp_path / "my music"
    for genre in ("rock", "jazz"):
        for name in ("Song A", "other song"):
            audio = render_track(genre, 6.0, 22050, np.random.default_rng(len(name)))
            path = src / genre.capitalize() / f"{name}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, audio, 22050)
    provenance = build_raw(folder_cfg(src), [], 0, tmp_path / "raw", progress=False)
    files = sorted(p.name for p in (tmp_path / "raw/genres").glob("*/*"))
    assert files == [f"jazz.00000{ext}", f"jazz.00001{ext}", f"rock.00000{ext}",
                     f"rock.00001{ext}"]
    assert {f["original"] for f in provenance["files"]} == {
        f"{g}/{n}{ext}" for g in ("Jazz", "Rock") for n in ("Song A", "other song")}
    manifest = scan_folder(tmp_path / "raw/genres", progress=False)
    assert manifest["readable"].all(), manifest["error"].tolist()
    assert (manifest["duration_s"] > 5.5).all()


def test_tar_gz_folder_source(synthetic_genres_dir, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "genres"), "gztar", synthetic_genres_dir.parent,
                                  "genres")
    provenance = build_raw(folder_cfg(archive), [], 0, tmp_path / "raw", progress=False)
    assert provenance["n_tracks"] == 30


def test_loose_files_without_genre_folder_are_an_error(tmp_path):
    src = tmp_path / "flat"
    src.mkdir()
    sf.write(src / "song.wav", np.zeros(22050, dtype=np.float32), 22050)
    with pytest.raises(MusicGenreError, match="outside a genre folder"):
        build_raw(folder_cfg(src), [], 0, tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists() and not (tmp_path / ".raw.tmp").exists()


def test_missing_folder(tmp_path):
    with pytest.raises(MusicGenreError, match="does not exist"):
        build_raw(folder_cfg(tmp_path / "nope"), [], 0, tmp_path / "raw", progress=False)


def test_synthetic_source_is_seeded(tmp_path):
    cfg = DataConfig(source="synthetic")
    cfg.synthetic.tracks_per_genre = 1
    cfg.synthetic.duration_s = 6.0
    genres = list(RECIPES)[:3]
    build_raw(cfg, genres, 5, tmp_path / "a", progress=False)
    build_raw(cfg, genres, 5, tmp_path / "b", progress=False)
    build_raw(cfg, genres, 6, tmp_path / "c", progress=False)
    a, b, c = ((tmp_path / d / "genres/blues/blues.00000.wav").read_bytes() for d in "abc")
    assert a == b and a != c


def test_synthetic_genres_not_separable_by_loudness(synthetic_genres_dir):
    manifest = scan_folder(synthetic_genres_dir, progress=False)
    per_genre = manifest.groupby("genre")["rms_dbfs"].agg(["min", "max"])
    # Every genre's loudness range overlaps the overall middle: loudness is not a shortcut.
    assert (per_genre["min"] < -17).all() and (per_genre["max"] > -21).all()
