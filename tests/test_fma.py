"""FMA as a data source (a tiny FMA-shaped archive served from 127.0.0.1), its official split,
and what its unbalanced genres need: balanced accuracy and class-weighted training."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from helpers.dvc_repo import TINY, dvc, git, update_params
from helpers.fma import data_config, fma_params, make_fma, tracks_csv
from musicgenre.core.errors import ArchiveError, ChecksumError, MusicGenreError
from musicgenre.core.metrics import classification_metrics
from musicgenre.data import fma
from musicgenre.data.config import SplitConfig, ValidateConfig
from musicgenre.data.download import build_raw
from musicgenre.data.genres import slug
from musicgenre.data.split import make_split, split_protocol
from musicgenre.data.tables import read_manifest
from musicgenre.data.validate import validate_dataset
from musicgenre.inference.checkpoint import load_classifier
from musicgenre.training.sampler import class_weights


@pytest.fixture(scope="module")
def fixture():
    return make_fma()


@pytest.fixture
def served(http_server, fixture):
    http_server.routes["/fma_metadata.zip"] = fixture.metadata_zip
    http_server.routes["/fma_small.zip"] = fixture.audio_zip
    return http_server


def test_tracks_csv_two_row_header_and_nested_subsets(fixture, tmp_path):
    (tmp_path / "tracks.csv").write_text(tracks_csv(fixture.rows))
    tracks = fma.read_tracks(tmp_path / "tracks.csv")
    assert list(tracks.columns) == ["track_id", "genre_top", "artist", "split", "subset"]
    assert len(tracks) == len(fixture.rows) and tracks["track_id"].iloc[0] == 2
    small = fma.select_subset(tracks, "small")
    assert len(small) == len(fixture.small) == 17
    assert sorted(small["genre"].unique()) == ["folk", "hip-hop", "rock"]
    assert set(small["source_split"]) == {"train", "val", "test"}
    # medium contains small plus its own tracks; large drops tracks without a top genre
    medium = fma.select_subset(tracks, "medium")
    assert len(medium) == 18 and "jazz" in set(medium["genre"])
    assert len(fma.select_subset(tracks, "large")) == 18
    assert fma.member_name("small", 2) == "fma_small/000/000002.mp3"
    (tmp_path / "bad.csv").write_text("track_id,genre\n2,Rock\n")
    with pytest.raises(MusicGenreError, match=r"bad.csv: not FMA's tracks.csv"):
        fma.read_tracks(tmp_path / "bad.csv")


def test_download_fma_over_http(served, fixture, tmp_path):
    cfg = data_config(fma_params(served.url, fixture, tmp_path / "cache"))
    provenance = build_raw(cfg, "auto", 0, tmp_path / "raw", progress=False)
    assert provenance["genres"] == ["folk", "hip-hop", "rock"]  # genres: auto, from the data
    assert provenance["n_tracks"] == 17 and provenance["fma"]["subset"] == "small"
    assert provenance["fma"]["audio"]["sha1"] == fixture.sha1(fixture.audio_zip)
    mp3s = sorted(p.name for p in (tmp_path / "raw/genres").glob("*/*.mp3"))
    assert len(mp3s) == 17 and "hip-hop.000002.mp3" in mp3s
    metadata = pd.read_csv(tmp_path / "raw/metadata.csv", keep_default_na=False)
    row = metadata.set_index("id").loc["hip-hop.000002"]
    assert row["artist"] == "Hip-Hop Artist training" and row["artist_source"] == "fma-metadata"
    assert row["source_split"] == "train"
    # a second run reuses the verified archives: no new request
    before = len(served.requests)
    build_raw(cfg, "auto", 0, tmp_path / "raw2", progress=False)
    assert len(served.requests) == before
    # an explicit genre list extracts only those genres
    two = build_raw(cfg, ["rock", "folk"], 0, tmp_path / "raw3", progress=False)
    assert two["genres"] == ["rock", "folk"] and set(two["tracks_per_genre"]) == {"rock", "folk"}


def test_wrong_checksum_or_wrong_archive_is_one_clear_error(served, fixture, tmp_path):
    changes = fma_params(served.url, fixture, tmp_path / "cache")
    changes["data.fma.small"] = {**changes["data.fma.small"], "sha1": "0" * 40}
    with pytest.raises(ChecksumError, match=r"fma_small.zip from .*: sha1 mismatch"):
        build_raw(data_config(changes), "auto", 0, tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()  # nothing half-written
    # the metadata archive where the audio archive should be: the tracks are not in it
    changes = fma_params(served.url, fixture, tmp_path / "cache2")
    served.routes["/other.zip"] = fixture.metadata_zip
    changes["data.fma.small"] = {"urls": [served.url("/other.zip")], "filename": "other.zip",
                                 "sha1": fixture.sha1(fixture.metadata_zip)}
    with pytest.raises(ArchiveError, match=r"other.zip: 17 track\(s\) .* is this fma_small.zip"):
        build_raw(data_config(changes), "auto", 0, tmp_path / "raw", progress=False)


def test_validate_drops_the_faulty_clips_and_the_official_split_is_fmas(served, fixture,
                                                                         tmp_path):
    cfg = data_config(fma_params(served.url, fixture, tmp_path / "cache"))
    provenance = build_raw(cfg, "auto", 0, tmp_path / "raw", progress=False)
    summary = validate_dataset(tmp_path / "raw/genres", ValidateConfig(), provenance["genres"],
                               tmp_path / "manifest.csv", tmp_path / "reports", progress=False,
                               metadata_path=tmp_path / "raw/metadata.csv")
    problems = {b["id"]: " ".join(b["problems"]) for b in summary["bad_files"]}
    assert problems.keys() == {f"rock.{fixture.broken:06d}", f"rock.{fixture.short:06d}"}
    assert problems[f"rock.{fixture.broken:06d}"].startswith("unreadable")
    assert problems[f"rock.{fixture.short:06d}"].startswith("too short")
    manifest = read_manifest(tmp_path / "manifest.csv")
    assert len(manifest) == 15

    table, counts = make_split(manifest, SplitConfig(method="official"), seed=0)
    published = {f"{slug(r['genre_top'])}.{r['track_id']:06d}":
                 fma.SPLIT_NAMES[r["split"]] for r in fixture.small}
    assert dict(zip(table["id"], table["split"], strict=True)) == {
        tid: published[tid] for tid in manifest["id"]}
    assert table["split"].value_counts().to_dict() == {"train": 9, "val": 3, "test": 3}
    protocol = split_protocol(table, SplitConfig(method="official"), counts)
    assert protocol["method"] == "official"
    assert protocol["artists_shared"] == {"train-test": 0, "train-val": 0, "val-test": 0}
    # the stratified artist-grouped split stays available on the same manifest
    grouped, _ = make_split(manifest, SplitConfig(), seed=0)
    assert set(grouped["split"]) == {"train", "val", "test"}


def test_official_split_needs_a_source_that_publishes_one():
    manifest = pd.DataFrame({"id": ["a", "b"], "genre": ["x", "y"], "source_split": ["", ""]})
    with pytest.raises(MusicGenreError, match=r"split.method=official: no track has a "
                                              r"published split"):
        make_split(manifest, SplitConfig(method="official"), seed=0)


def test_balanced_accuracy_is_the_mean_recall():
    truth = np.array([0] * 8 + [1] * 2 + [2] * 2)
    pred = np.array([0] * 8 + [0, 1] + [2, 0])  # the big class always right
    m = classification_metrics(truth, pred, ["big", "small", "tiny"])
    assert m["accuracy"] == pytest.approx(10 / 12)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, pred))
    assert m["balanced_accuracy"] == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_class_weights_count_tracks_not_segments():
    # 3 tracks of genre 0 (4 segments each, one augmented copy too), 1 of genre 1
    index = pd.DataFrame({"track_id": ["a"] * 8 + ["b"] * 8 + ["c"] * 8 + ["d"] * 2,
                          "label": [0] * 24 + [1] * 2})
    weights = class_weights(index, 3)
    assert weights.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1), 1.0])


@pytest.mark.slow
def test_fma_through_the_pipeline(served, fixture, project_copy):
    """The README's commands on the FMA-shaped archive: `dvc exp run -S data.source=fma -S
    data.fma.subset=small` (download -> validate -> split -> features -> train 1 epoch with
    balanced class weights -> evaluate -> report), then the same with FMA's official split,
    which reruns nothing before the split."""
    changes = {**TINY, **fma_params(served.url, fixture, "data/external"),
               "train.epochs": 1, "train.class_weight": "balanced",
               "features.embedding": None, "models": ["baseline", "cnn"], "model": "cnn"}
    changes.pop("data.source")
    changes.pop("data.fma.subset")
    update_params(project_copy, changes)  # mirrors and the shrunk config, committed
    git("commit", "-qam", "fma test params", cwd=project_copy)

    dvc("exp", "run", "-S", "data.source=fma", "-S", "data.fma.subset=small", cwd=project_copy)
    summary = json.loads((project_copy / "reports/validation/summary.json").read_text())
    assert summary["n_files"] == 17 and summary["n_kept"] == 15
    split = json.loads((project_copy / "reports/split.json").read_text())
    assert split["method"] == "stratified" and split["group_by"] == "artist"
    assert split["artists_shared"] == {"train-test": 0, "train-val": 0, "val-test": 0}
    for model in ("baseline", "cnn"):
        metrics = json.loads((project_copy / f"reports/eval/{model}/evaluation.json").read_text())
        assert list(metrics["per_genre"]) == ["folk", "hip-hop", "rock"]
        assert metrics["n_tracks"] == split["tracks"]["test"]
        assert 0 <= metrics["balanced_accuracy"] <= 1
    assert load_classifier(project_copy / "models/cnn").genres == ["folk", "hip-hop", "rock"]
    report = (project_copy / "reports/report.md").read_text()
    assert "balanced accuracy" in report and f"rock.{fixture.broken:06d}" in report

    proc = dvc("exp", "run", "-S", "data.source=fma", "-S", "data.fma.subset=small",
               "-S", "split.method=official", cwd=project_copy)
    # download declares split.method (for fault-filtered it fetches the published lists), so
    # it reruns; for official it writes the same data/raw, and nothing after it reruns
    # before the split
    assert "Running stage 'download'" in proc.stdout
    assert "Stage 'validate' didn't change, skipping" in proc.stdout
    split = json.loads((project_copy / "reports/split.json").read_text())
    assert split["method"] == "official" and split["tracks"] == {"train": 9, "val": 3, "test": 3}
    assert split["artists_shared"]["train-test"] == 0
    metrics = json.loads((project_copy / "reports/eval/cnn/metrics.json").read_text())
    assert metrics["n_tracks"] == 3
