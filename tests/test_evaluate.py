"""Metrics against scikit-learn, track-level aggregation, confidence intervals."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from musicgenre.core.metrics import (
    classification_metrics,
    mean_by_track,
    most_confused,
    track_accuracy,
    wilson_interval,
)

GENRES = ["blues", "jazz", "rock", "pop"]


def test_metrics_match_scikit_learn():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    y_pred = np.array([0, 1, 0, 1, 0, 2, 2, 3, 3, 3, 1, 3])
    m = classification_metrics(y_true, y_pred, GENRES)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, average="macro")
    assert m["macro_precision"] == pytest.approx(pm)
    assert m["macro_recall"] == pytest.approx(rm)
    assert m["macro_f1"] == pytest.approx(fm)
    for i, g in enumerate(GENRES):
        assert m["per_genre"][g] == pytest.approx({"precision": p[i], "recall": r[i],
                                                   "f1": f[i], "support": s[i]})
    assert m["confusion_matrix"] == confusion_matrix(y_true, y_pred).tolist()
    assert most_confused(m, GENRES)[0]["tracks"] == 1


def test_wilson_interval():
    low, high = wilson_interval(120, 150)  # 80% of a 150-track test set
    assert low == pytest.approx(0.7289, abs=1e-3) and high == pytest.approx(0.8566, abs=1e-3)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0)
    for n in range(1, 40):  # exact at the ends, never inside the accuracy (an error bar < 0)
        assert wilson_interval(n, n)[1] == 1.0 and wilson_interval(0, n)[0] == 0.0


def test_track_level_averages_segment_log_probabilities():
    # Track a: two segments lean to class 0 a little, one is sure of class 1. Majority vote
    # says 0; averaging log-probabilities says 1 (the confident segment dominates).
    probs = np.array([[0.55, 0.45], [0.55, 0.45], [0.01, 0.99], [0.9, 0.1]])
    index = pd.DataFrame({"track_id": ["a", "a", "a", "b"], "label": [1, 1, 1, 1]})
    scores = mean_by_track(np.log(probs), index["track_id"])
    assert list(scores.index) == ["a", "b"]
    np.testing.assert_allclose(scores.loc["a"], np.log(probs[:3]).mean(axis=0))
    assert scores.to_numpy().argmax(axis=1).tolist() == [1, 0]
    assert track_accuracy(np.log(probs), index) == 0.5  # a right, b wrong


def test_empty_test_split_gives_null_metrics():
    m = classification_metrics(np.array([], dtype=int), np.array([], dtype=int), GENRES)
    assert m["n_tracks"] == 0 and m["accuracy"] is None


def _track_score_by_hand(classifier, segments) -> np.ndarray:
    """A track's score computed here from the model itself, not through Classifier's code:
    a network's mean segment log-softmax on normalised features; for the estimators, the
    log-probability of the track's feature summary (mean and std of every row over all its
    frames) or the mean log-probability of its segments' embeddings."""
    import torch

    x = np.asarray(segments, dtype=np.float32)
    if classifier.is_neural:
        normalised = (x - classifier.mean[:, None]) / classifier.std[:, None]
        with torch.no_grad():
            logits = classifier.model(torch.from_numpy(normalised.astype(np.float32)))
        return torch.log_softmax(logits, dim=1).numpy().mean(axis=0)
    assert list(classifier.model.classes_) == list(range(10))  # every genre in training
    if x.ndim == 3:
        frames = np.concatenate(list(x), axis=1)  # [rows, all frames of the track]
        summary = np.concatenate([frames.mean(axis=1), frames.std(axis=1)])[None]
        return np.log(classifier.model.predict_proba(summary))[0]
    return np.log(classifier.model.predict_proba(x)).mean(axis=0)


@pytest.mark.parametrize("name", ["crnn", "baseline", "transfer"])
def test_track_predictions_of_a_trained_model(trained, synthetic_features, name):
    from musicgenre.evaluation.evaluate import evaluate_classifier
    from musicgenre.features.store import load_split
    from musicgenre.inference.checkpoint import load_classifier

    classifier = load_classifier(trained[0] / name)
    x, index = load_split(synthetic_features, "test", embeddings=classifier.uses_embeddings)
    metrics, tracks = evaluate_classifier(classifier, x, index)
    assert list(tracks["track_id"]) == sorted(index["track_id"].unique())
    for row in tracks.itertuples():
        segments = x[index.index[index["track_id"] == row.track_id]]
        expected = _track_score_by_hand(classifier, segments)
        assert row.predicted == int(np.argmax(expected))
        assert row.true == int(index.loc[index["track_id"] == row.track_id, "label"].iloc[0])
        proba = np.array([getattr(row, f"p_{g}") for g in classifier.genres])
        # calibrated: softmax(track score / the temperature fitted on validation tracks)
        scaled = np.exp((expected - expected.max()) / classifier.temperature)
        np.testing.assert_allclose(proba, scaled / scaled.sum(), rtol=1e-4, atol=1e-7)
    assert metrics["accuracy"] == pytest.approx((tracks["true"] == tracks["predicted"]).mean())
    assert metrics["temperature"] == classifier.temperature and 0 <= metrics["ece"] <= 1

    empty, none = evaluate_classifier(classifier, x[:0], index.iloc[:0])
    assert len(none) == 0 and empty["n_tracks"] == 0 and empty["accuracy"] is None
