"""Calibrated track probabilities: temperature scaling and the expected calibration error."""

import json

import numpy as np
import pytest

from musicgenre.inference.calibration import (
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
)


def _sample(n, temperature, seed=0):
    """Scores whose true class is drawn from softmax(scores / temperature)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 4, size=(n, 10))
    p = softmax(scores, temperature)
    labels = np.array([rng.choice(10, p=row) for row in p])
    return scores, labels


@pytest.mark.parametrize("true_t", [2.0, 3.0])
def test_fitted_temperature_recovers_the_true_one(true_t):
    scores, labels = _sample(4000, true_t)
    t = fit_temperature(scores, labels)
    assert abs(t - true_t) / true_t < 0.1
    assert negative_log_likelihood(scores, labels, t) <= negative_log_likelihood(scores, labels)


def test_a_few_validation_tracks_all_right_never_sharpen():
    """All right: the NLL keeps falling as T shrinks; the fit must stop at 1, not make every
    probability 1.00 (what the cnn's fit did on 5 dev validation tracks with a 0.05 bound)."""
    scores = np.log(softmax(np.array([[3.0, 1.0, 0.0]] * 5)))
    t = fit_temperature(scores, np.zeros(5, dtype=int))
    assert abs(t - 1.0) < 1e-3


def test_ece_small_when_calibrated_large_when_overconfident():
    scores, labels = _sample(4000, 3.0, seed=1)
    calibrated = expected_calibration_error(softmax(scores, 3.0), labels)
    sharp = expected_calibration_error(softmax(scores, 1.0), labels)
    assert calibrated < 0.03 < 0.15 < sharp
    assert expected_calibration_error(np.eye(3), np.array([0, 1, 2])) == 0.0
    assert expected_calibration_error(np.eye(3), np.array([1, 2, 0])) == 1.0
    assert expected_calibration_error(np.zeros((0, 3)), np.array([], dtype=int)) is None


def test_temperature_keeps_the_ranking():
    scores, labels = _sample(200, 2.0, seed=2)
    summary = calibration_summary(scores, labels)
    assert (softmax(scores, summary["temperature"]).argmax(1) == scores.argmax(1)).all()
    assert summary["nll_after"] <= summary["nll_before"] + 1e-12


@pytest.mark.parametrize("name", ["crnn", "baseline", "transfer"])
def test_trained_models_carry_a_fitted_temperature(trained, name):
    from musicgenre.inference.checkpoint import load_classifier

    saved = json.loads((trained[0] / name / "calibration.json").read_text())
    assert saved["fitted_on"] == "validation tracks" and saved["tracks"] > 0
    assert saved["nll_after"] <= saved["nll_before"] + 1e-9  # T = 1 was a candidate
    assert load_classifier(trained[0] / name).temperature == saved["temperature"]


def test_a_broken_calibration_file_is_one_clear_error(trained, tmp_path):
    import shutil

    from musicgenre.core.errors import MusicGenreError
    from musicgenre.inference.checkpoint import load_classifier

    model = tmp_path / "m"
    shutil.copytree(trained[0] / "baseline", model)
    (model / "calibration.json").write_text('{"temperature": -2}')
    with pytest.raises(MusicGenreError, match="calibration.json: temperature must be > 0"):
        load_classifier(model)


def test_unknown_threshold_turns_away_the_budgeted_share_of_validation_tracks():
    from musicgenre.inference.calibration import unknown_threshold

    rng = np.random.default_rng(4)
    proba = softmax(rng.normal(size=(200, 10)) * 3)
    threshold = unknown_threshold(proba, 0.05)
    rejected = (proba.max(axis=1) < threshold).mean()
    assert 0.04 <= rejected <= 0.05  # the 5% quantile, never more than the budget
    assert unknown_threshold(np.zeros((0, 10))) == 0.0
    summary = calibration_summary(*_sample(200, 2.0, seed=5), novelty=True)
    alone = calibration_summary(*_sample(200, 2.0, seed=5))
    assert summary["unknown_below"] <= alone["unknown_below"]  # half the budget with novelty


def test_novelty_threshold_is_held_out_and_separates_other_data():
    """Cross-fitted distances: a threshold above every held-out training point (so it is
    larger than the in-sample distances), and data from elsewhere lands far beyond it."""
    from musicgenre.inference.novelty import Novelty

    rng = np.random.default_rng(0)
    music = rng.beta(2, 5, size=(120, 20))  # probabilities, like a taggram
    groups = np.repeat(np.arange(40), 3)  # three copies per track stay together
    novelty = Novelty.fit_with_threshold(music, groups, log_odds=True)
    assert novelty.above > novelty.distance(music).max()
    other = rng.beta(5, 2, size=(10, 20))
    assert (novelty.distance(other) > novelty.above).all()
    again = Novelty.from_json(novelty.to_json())
    np.testing.assert_allclose(again.distance(other), novelty.distance(other))
    assert again.above == novelty.above


def test_non_music_probes_are_what_they_say():
    from musicgenre.evaluation.unknown import non_music_probes

    probes = non_music_probes(22050, seed=1)
    assert len(probes) == 7
    for name, audio in probes.items():
        assert audio.dtype == np.float32 and len(audio) == 10 * 22050, name
        assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(0.1, rel=1e-3), name  # -20 dBFS
    spectrum = np.abs(np.fft.rfft(probes["sine 440 Hz"]))
    assert np.argmax(spectrum) / 10 == pytest.approx(440, abs=1)
    again = non_music_probes(22050, seed=1)
    assert all(np.array_equal(probes[k], again[k]) for k in probes)


@pytest.mark.slow
def test_trained_transfer_model_calls_non_music_unknown(trained):
    """The pipeline's transfer model: every generated non-music probe is unknown, and the
    thresholds it saved are the ones loading gives."""
    from musicgenre.evaluation.unknown import probe_answers
    from musicgenre.inference.checkpoint import load_classifier

    classifier = load_classifier(trained[0] / "transfer")
    saved = json.loads((trained[0] / "transfer" / "calibration.json").read_text())
    assert classifier.unknown_below == saved["unknown_below"]
    assert classifier.novelty.above == saved["novelty"]["above"]
    answers = probe_answers(classifier)
    assert [a["label"] for a in answers] == ["unknown"] * len(answers), answers
