"""Robustness table: every condition scored, seeded, the same with any number of workers."""

import json

import numpy as np
import pandas as pd
import pytest

from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.evaluation.robustness import robustness_table, run_robustness


@pytest.fixture(scope="module")
def test_tracks(quick_split):
    manifest, split, _ = quick_split
    tracks = split[split["split"] == "test"].merge(manifest[["id", "path"]], on="id")
    assert len(tracks) >= 5  # enough to score
    return tracks


def test_clean_condition_scores_like_predict(quick_models, test_tracks):
    from musicgenre.inference.checkpoint import load_classifier
    from musicgenre.inference.predict import classify_file

    table = robustness_table(quick_models / "cnn", GTZAN_GENRES, test_tracks, [10.0], [2.0],
                             seed=7, workers=1, progress=False)
    assert list(table["condition"]) == ["clean", "noise 10 dB SNR", "pitch +2 st"]
    assert (table["n_tracks"] == len(test_tracks)).all()
    classifier = load_classifier(quick_models / "cnn")
    predicted = [GTZAN_GENRES[int(np.argmax(classify_file(classifier, p)))]
                 for p in test_tracks["path"]]
    clean = table.set_index("condition").loc["clean", "accuracy"]
    assert clean == pytest.approx(np.mean(np.array(predicted) == test_tracks["genre"].to_numpy()))


def test_seeded_and_independent_of_workers(quick_models, test_tracks):
    args = (quick_models / "baseline", GTZAN_GENRES, test_tracks, [0.0], [-2.0], 7)
    one = robustness_table(*args, workers=1, progress=False)
    two = robustness_table(*args, workers=2, progress=False)
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, robustness_table(*args, workers=1, progress=False))


def test_stage_function_writes_the_table(quick_models, quick_split, tmp_path):
    manifest, split, _ = quick_split
    table = run_robustness(quick_models / "cnn", manifest, split, [20.0], [], 7,
                           tmp_path / "robustness.json")
    saved = json.loads((tmp_path / "robustness.json").read_text())
    assert saved["model"] == "cnn"
    assert saved["conditions"] == table.to_dict("records")


def test_real_audio_with_the_transfer_model(trained, real_genres_dir):
    tracks = pd.DataFrame([{"id": f"{g}.00002", "genre": g,
                            "path": str(real_genres_dir / g / f"{g}.00002.wav")}
                           for g in ("metal", "classical", "reggae")])
    args = (trained[0] / "transfer", GTZAN_GENRES, tracks, [20.0], [2.0], 7)
    one = robustness_table(*args, workers=1, progress=False)
    two = robustness_table(*args, workers=2, progress=False)
    assert list(one["condition"]) == ["clean", "noise 20 dB SNR", "pitch +2 st"]
    pd.testing.assert_frame_equal(one, two)
