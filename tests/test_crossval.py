"""K-fold cross-validation by track: fold assignment, every track tested once, the refit."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers.training import FAST_TRAIN, small_model_cfg
from musicgenre import models
from musicgenre.core.errors import MusicGenreError
from musicgenre.core.metrics import wilson_interval
from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.data.split import kfold_assign
from musicgenre.evaluation.crossval import CrossvalSettings, cross_validate, format_crossval
from musicgenre.features.config import AugmentConfig, FeaturesConfig
from musicgenre.training.data import TrainingData
from musicgenre.training.fit import fit_model


def _manifest(per_genre: dict[str, int]) -> pd.DataFrame:
    rows = [{"id": f"{g}.{i:05d}", "genre": g, "md5": f"{g}-{i}"}
            for g, n in per_genre.items() for i in range(n)]
    return pd.DataFrame(rows)


def test_kfold_deals_each_genre_evenly_and_keeps_duplicates_together():
    manifest = _manifest({"rock": 11, "metal": 9, "jazz": 5})
    # rock.00002 == metal.00003 byte for byte (like GTZAN's rock.00016 == metal.00058)
    manifest.loc[manifest["id"] == "metal.00003", "md5"] = "rock-2"
    fold = kfold_assign(manifest, 5, seed=3)
    assert set(fold) == set(range(5))
    by_id = dict(zip(manifest["id"], fold, strict=True))
    assert by_id["rock.00002"] == by_id["metal.00003"]
    for genre, rows in manifest.groupby("genre"):
        counts = np.bincount(fold[rows.index], minlength=5)
        assert counts.max() - counts.min() <= 1, (genre, counts)
    assert np.array_equal(fold, kfold_assign(manifest, 5, seed=3))
    assert not np.array_equal(fold, kfold_assign(manifest, 5, seed=4))
    with pytest.raises(MusicGenreError, match="at least 2 folds"):
        kfold_assign(manifest, 1, seed=3)


def test_kfold_by_artist_never_tests_a_trained_artist(real_data):
    from musicgenre.data.artists import read_gtzan_index
    from musicgenre.evaluation.crossval import fold_protocol

    index = read_gtzan_index(real_data / "gtzan-ref/GTZANindex.txt")
    ids = sorted(p.stem for p in (real_data / "gtzan-dev/genres").glob("*/*.wav"))
    manifest = pd.DataFrame({"id": ids, "genre": [i.split(".")[0] for i in ids],
                             "md5": ids, "artist": [index.get(i) for i in ids]})
    fold = kfold_assign(manifest, 5, seed=42, group_by="artist")
    protocol = fold_protocol(manifest, fold, "artist")
    # blues, classical, reggae and rock are one artist each among the dev tracks
    assert protocol["never_tested_genres"] == ["blues", "classical", "reggae", "rock"]
    assert protocol["tracks_never_tested"] == 20 and (fold[manifest["genre"] == "rock"] < 0).all()
    assert protocol["artists_shared_test_train"] == 0
    assert set(fold[fold >= 0]) == set(range(5))
    blind = kfold_assign(manifest, 5, seed=42, group_by="track")
    assert fold_protocol(manifest, blind, "track")["artists_shared_test_train"] > 10
    with pytest.raises(MusicGenreError, match="too few for 6 folds"):
        kfold_assign(manifest, 6, seed=42, group_by="artist")


def _params():
    return {"seed": 5, "genres": list(GTZAN_GENRES),
            "features": FeaturesConfig(n_mels=32, segment_s=2.0, segment_hop_s=1.0,
                                       embedding="MSD_musicnn"),
            "augment": AugmentConfig(copies=1),
            "train": replace(FAST_TRAIN, epochs=4, min_epochs=2, patience=2),
            "crnn": small_model_cfg("crnn"), "baseline": models.get("baseline").config(),
            "transfer": models.get("transfer").config()}


@pytest.mark.slow  # three models, three folds, embeddings: about a minute
def test_every_track_is_tested_once_and_final_models_refit_on_all_non_test_tracks(
        synthetic_genres_dir, tmp_path):
    names = ["baseline", "crnn", "transfer"]
    result = cross_validate(synthetic_genres_dir, _params(), names, CrossvalSettings(
        folds=3, progress=False, work_dir=tmp_path, partial_out=tmp_path / "cv.json",
        group_by="track"))
    assert result["tracks"] == 30 and result["refit"]
    rows = pd.DataFrame(result["per_fold"])
    assert len(rows) == 9
    every_track = {p.stem for p in synthetic_genres_dir.glob("*/*.wav")}
    for name, per_model in rows.groupby("model"):
        # What each fold's scored model was fitted on (from the data it was given) never
        # includes a track it was tested on, and with refit it is every other track.
        for tested, seen in zip(per_model["tested"], per_model["seen"], strict=True):
            assert not set(tested) & set(seen)
            assert set(tested) | set(seen) == every_track
        tested = [t for fold in per_model["tested"] for t in fold]
        assert sorted(tested) == sorted(every_track)  # every track tested exactly once
        assert per_model["test_tracks"].sum() == 30  # 3 folds of one track per genre
        assert (per_model["train_tracks"] == 20).all()  # everything but the test fold
        s = result["summary"][name]
        assert s["pooled_accuracy"] == per_model["correct"].sum() / 30
        assert s["ci95_wilson"] == list(wilson_interval(per_model["correct"].sum(), 30))
    crnn = rows[rows["model"] == "crnn"]
    assert crnn["best_epoch"].between(2, 4).all()  # chosen on the validation fold
    assert crnn["correct_before_refit"].between(0, 10).all()
    assert rows[rows["model"] != "crnn"]["best_epoch"].isna().all()  # fitted in one step
    for record in result["per_fold"]:  # every miss is listed, with what it was taken for
        assert len(record["wrong"]) == record["test_tracks"] - record["correct"]
        assert all(w["true_genre"] != w["predicted_genre"] for w in record["wrong"])
    missed = {m: {w["track_id"] for r in result["per_fold"] if r["model"] == m
                  for w in r["wrong"]} for m in names}
    assert result["wrong_for_every_model"] == sorted(set.intersection(*missed.values()))
    for name in names:
        recall = result["summary"][name]["genre_recall"]
        assert len(recall) == 10  # 3 test tracks per genre over the folds
        assert sum(recall.values()) * 3 == pytest.approx(
            rows[rows["model"] == name]["correct"].sum())
    table = format_crossval(result)
    assert "refit on all non-test tracks" in table
    assert "| blues | " in table and "Tracks no model got right" in table
    assert "by track (artists ignored" in table and "95% Wilson" in table
    # paired comparison on the same 30 tracks, consistent with each model's own count
    pairs = {(p["a"], p["b"]): p for p in result["paired"]}
    assert set(pairs) == {("baseline", "crnn"), ("baseline", "transfer"), ("crnn", "transfer")}
    pair = pairs[("baseline", "crnn")]
    assert pair["tracks"] == 30 and 0.0 <= pair["mcnemar_exact_p"] <= 1.0
    assert pair["only_a_right"] - pair["only_b_right"] == (
        result["summary"]["baseline"]["correct"] - result["summary"]["crnn"]["correct"])
    assert ", ".join(f"{c}/10" for c in crnn["correct"]) in table
    assert (tmp_path / "cv.json").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "cv.json"]  # temporary features removed


def test_without_refit_the_validation_fold_is_held_out(synthetic_genres_dir, tmp_path):
    result = cross_validate(synthetic_genres_dir, _params(), ["baseline"], CrossvalSettings(
        folds=3, progress=False, work_dir=tmp_path, refit=False, group_by="track"))
    rows = pd.DataFrame(result["per_fold"])
    assert (rows["train_tracks"] == 10).all() and rows["test_tracks"].sum() == 30
    for tested, seen in zip(rows["tested"], rows["seen"], strict=True):
        assert len(seen) == 20 and not set(tested) & set(seen)  # 10 train + 10 validation
    assert "without the validation fold" in format_crossval(result)


def test_refit_trains_exactly_the_chosen_epochs_and_keeps_the_last(synthetic_features,
                                                                     tmp_path):
    full = TrainingData.from_features_dir(synthetic_features)
    data = replace(full, x_train=np.asarray(full.x_train[:200]),
                   idx_train=full.idx_train.iloc[:200])
    summary = fit_model(models.get("crnn"), _params(), data, tmp_path / "refit",
                        tmp_path / "live", progress=False, epochs=3).info["summary"]
    assert summary["epochs_run"] == 3 and summary["best_epoch"] == 3


@pytest.fixture
def two_folders(synthetic_genres_dir, tmp_path):
    """The synthetic tracks split over two <genre>/<file> folders (as the 117 real tracks
    come in three)."""
    import shutil

    first, second = tmp_path / "a" / "genres", tmp_path / "b" / "genres"
    for k, path in enumerate(sorted(synthetic_genres_dir.glob("*/*.wav"))):
        target = (first if k % 2 else second) / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return first, second


def test_several_folders_seeds_excerpts_robustness_and_unknown(two_folders, tmp_path):
    from musicgenre.evaluation.config import RobustnessConfig

    conditions = RobustnessConfig(snr_db=[5.0], pitch_semitones=[], tempo_percent=[],
                                  mp3_kbps=[], reverb_room=[], telephone=True,
                                  resample_hz=[], gain_db=[-20.0])
    result = cross_validate(list(two_folders), _params(), ["baseline"], CrossvalSettings(
        folds=3, progress=False, work_dir=tmp_path, group_by="track", seeds=[1, 2],
        excerpts_s=[1.0, 4.0], robustness=conditions, figures_dir=tmp_path / "fig"))
    assert result["tracks"] == 30 and result["seeds"] == [1, 2]
    assert result["data"] == [str(d) for d in two_folders]
    summary = result["summary"]["baseline"]
    assert len(summary["per_seed_accuracy"]) == 2 and summary["tracks"] == 30
    assert summary["pooled_accuracy"] == pytest.approx(np.mean(summary["per_seed_accuracy"]))
    rows = pd.DataFrame(result["per_fold"])
    for _, seed_rows in rows.groupby("seed"):  # every track tested once per seed
        assert sorted(sum(seed_rows["tested"], [])) == sorted(set(sum(seed_rows["tested"], [])))
        assert seed_rows["test_tracks"].sum() == 30
    lengths = {r["length_s"]: r for r in result["excerpts"]["lengths"]}
    assert set(lengths) == {1.0, 4.0} and lengths[1.0]["excerpts"] == 30 * 3
    assert all(0 <= r["accuracy"] <= 1 and r["ece"] is not None for r in lengths.values())
    table = pd.DataFrame(result["robustness"]["conditions"]).set_index("condition")
    assert list(table.index) == ["clean", "noise 5 dB SNR", "telephone 300-3400 Hz",
                                 "gain -20 dB"]
    assert (table["n_tracks"] == 30).all()
    predicted = result["robustness"]["predicted"]  # per track: pairs two runs' conditions
    assert len(predicted) == 30 and set(next(iter(predicted.values()))) == set(table.index)
    clean_right = np.mean([predicted[t]["clean"] == t.split(".")[0] for t in predicted])
    assert clean_right == pytest.approx(table.loc["clean", "accuracy"])
    assert table.loc["clean", "accuracy"] == pytest.approx(
        summary["per_seed_accuracy"][0], abs=0.2)  # from audio, not the stored segments
    assert all(len(u["probes"]) == 7 for u in result["unknown"])
    assert {p.name for p in (tmp_path / "fig").iterdir()} == {"excerpts.png", "robustness.png"}
    text = format_crossval(result)
    assert "accuracy per seed" in text and "| 1 s | 90 |" in text and "gain -20 dB" in text


def test_a_track_in_two_folders_is_refused(two_folders, tmp_path):
    import shutil

    first, second = two_folders
    one = next(first.glob("*/*.wav"))
    shutil.copy(one, second / one.parent.name / one.name)
    with pytest.raises(MusicGenreError, match=rf"track {one.stem} is in more than one folder"):
        cross_validate(list(two_folders), _params(), ["baseline"], CrossvalSettings(
            folds=3, progress=False, work_dir=tmp_path, group_by="track"))
