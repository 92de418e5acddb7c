"""Models and training: overfitting, determinism, checkpoints that travel, real accuracy."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.training import FAST_TRAIN, fit, small_model_cfg
from musicgenre import models
from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.evaluation.evaluate import evaluate_classifier
from musicgenre.features.store import load_split
from musicgenre.inference.checkpoint import load_classifier
from musicgenre.training.averaging import WeightAverage
from musicgenre.training.data import TrainingData
from musicgenre.training.sampler import CropSampler


@pytest.mark.parametrize("name", ["cnn", "rnn", "crnn"])
def test_each_model_overfits_a_tiny_batch(synthetic_features, name):
    torch.manual_seed(0)
    x, index = load_split(synthetic_features, "train")
    pick = index.groupby("label").head(2).index.to_numpy()[:16]
    xb = torch.from_numpy(np.asarray(x[pick], dtype=np.float32))
    xb = (xb - xb.mean(dim=(0, 2), keepdim=True)) / (xb.std(dim=(0, 2), keepdim=True) + 1e-6)
    yb = torch.from_numpy(index["label"].to_numpy()[pick])
    model = models.get(name).network(replace(small_model_cfg(name), dropout=0.0), x.shape[1],
                                     x.shape[2], 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_synthetic_test_accuracy_at_least_90_percent(trained, synthetic_features):
    out, _ = trained
    x, index = load_split(synthetic_features, "test")
    metrics, _ = evaluate_classifier(load_classifier(out / "crnn"), x, index)
    assert metrics["n_tracks"] == 18
    assert metrics["accuracy"] >= 0.9, metrics["accuracy"]
    baseline, _ = evaluate_classifier(load_classifier(out / "baseline"), x, index)
    assert baseline["n_tracks"] == 18
    embeddings, _ = load_split(synthetic_features, "test", embeddings=True)
    transfer, _ = evaluate_classifier(load_classifier(out / "transfer"), embeddings, index)
    assert transfer["n_tracks"] == 18 and transfer["accuracy"] >= 0.5, transfer["accuracy"]


def test_training_logs_curves_and_early_stops(trained):
    out, summaries = trained
    live = out / "live_crnn"
    loss = (live / "plots/metrics/val/loss.tsv").read_text().splitlines()
    assert loss[0] == "step\tloss" and len(loss) - 1 == summaries["crnn"]["epochs_run"]
    assert 1 <= summaries["crnn"]["best_epoch"] <= summaries["crnn"]["epochs_run"]
    metrics = json.loads((live / "metrics.json").read_text())
    assert metrics["best"]["best_epoch"] == summaries["crnn"]["best_epoch"]
    # It stopped before the epoch budget, for one of the two reasons early stopping has:
    # `patience` epochs without a better validation loss, or every validation track right
    # with a loss at most stop_val_loss (then the epoch that got there is the last).
    run, best = summaries["crnn"]["epochs_run"], summaries["crnn"]["best_epoch"]
    assert run < FAST_TRAIN.epochs
    val_loss = [float(line.split("\t")[1]) for line in loss[1:]]
    accuracy = (live / "plots/metrics/val/track_accuracy.tsv").read_text().splitlines()[1:]
    solved = (float(accuracy[best - 1].split("\t")[1]) == 1.0
              and val_loss[best - 1] <= FAST_TRAIN.stop_val_loss)
    assert run == best + FAST_TRAIN.patience or (solved and run == best), (run, best)
    timing = json.loads((live / "timing.json").read_text())
    assert timing["mean_epoch_seconds"] > 0


def test_weight_average_follows_the_model_with_warm_up():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    average = WeightAverage(model, horizon_steps=4)  # decay 0.75 once warmed up
    start = model[0].weight.detach().clone()
    expected = start.clone()
    for step in range(30):
        with torch.no_grad():
            model[0].weight.add_(1.0)
        model[1].num_batches_tracked += 1
        average.update()
        decay = min(0.75, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * model[0].weight.detach()
    assert torch.allclose(average.model[0].weight, expected)
    # The model moved by 30; the average lags about decay / (1 - decay) = 3 steps behind.
    lag = (model[0].weight - average.model[0].weight).abs()
    assert ((lag > 2) & (lag < 4)).all(), lag
    assert average.model[1].num_batches_tracked.item() == 30


def _train_slice(features_dir):
    full = TrainingData.from_features_dir(features_dir)
    keep = full.idx_train.index < 320  # a slice keeps the test quick
    return replace(full, x_train=np.asarray(full.x_train[:320]),
                   idx_train=full.idx_train[keep].reset_index(drop=True))


def test_no_best_epoch_before_min_epochs(synthetic_features, tmp_path):
    cfg = replace(FAST_TRAIN, epochs=6, min_epochs=5, patience=1)
    summary = fit("cnn", _train_slice(synthetic_features), tmp_path / "m", tmp_path / "live",
                  train=cfg).info["summary"]
    assert summary["best_epoch"] in (5, 6)
    assert summary["epochs_run"] == 6  # a patience of 1 could not stop it before epoch 6


def test_same_seed_same_weights_and_metrics(synthetic_features, tmp_path):
    data = _train_slice(synthetic_features)
    cfg = replace(FAST_TRAIN, epochs=2)
    runs = []
    for k in range(2):
        fit("cnn", data, tmp_path / f"m{k}", tmp_path / f"live{k}", train=cfg)
        runs.append(tmp_path / f"live{k}")
    assert (runs[0] / "metrics.json").read_bytes() == (runs[1] / "metrics.json").read_bytes()
    a = torch.load(tmp_path / "m0/model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "m1/model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["crnn", "baseline", "transfer"])
def test_checkpoint_predicts_the_same_in_a_fresh_process(trained, synthetic_features, tmp_path,
                                                          name):
    out, _ = trained
    x, _ = load_split(synthetic_features, "test", embeddings=name == "transfer")
    segments = np.asarray(x[:20])
    expected = load_classifier(out / name).segment_log_probs(segments)
    np.save(tmp_path / "x.npy", segments)
    code = ("import sys, numpy as np; from musicgenre.inference.checkpoint import load_classifier; "
            "c = load_classifier(sys.argv[1]); "
            "np.save(sys.argv[3], c.segment_log_probs(np.load(sys.argv[2])))")
    subprocess.run([sys.executable, "-c", code, str(out / name), str(tmp_path / "x.npy"),
                    str(tmp_path / "y.npy")], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    info = load_classifier(out / name).info
    assert info["genres"] == GTZAN_GENRES and info["features"]["n_mels"] == 64


def test_crops_visit_every_track_version_a_fixed_number_of_times():
    # 3 tracks x 2 versions, with 5, 19 and 1 segments per version
    rows = [(t, c) for t, n in (("a", 5), ("b", 19), ("c", 1)) for c in (0, 1) for _ in range(n)]
    index = pd.DataFrame(rows, columns=["track_id", "copy"])
    sampler = CropSampler(index, crops=2)
    assert len(sampler) == 12  # grows with track versions, not with segments
    rng = np.random.default_rng(0)
    epochs = [sampler.epoch(rng) for _ in range(50)]
    for rows_ in epochs:
        picked = index.iloc[rows_].groupby(["track_id", "copy"]).size()
        assert (picked == 2).all() and len(picked) == 6
    # Over many epochs every segment of a long track gets drawn, in varying order.
    seen = np.unique(np.concatenate(epochs))
    assert set(seen) == set(range(len(index)))
    assert not all(np.array_equal(epochs[0], e) for e in epochs[1:])
    # Same seed, same draws; crops = 0 is a full sweep of every row once.
    again = CropSampler(index, crops=2).epoch(np.random.default_rng(0))
    assert np.array_equal(again, epochs[0])
    full = CropSampler(index, crops=0)
    assert len(full) == len(index)
    assert sorted(full.epoch(rng)) == list(range(len(index)))
    # Too few track versions for an epoch of min_crops: more crops of each, evenly.
    topped = CropSampler(index, crops=1, min_crops=20)
    assert len(topped) == 24  # 4 crops of each of the 6 versions
    picked = index.iloc[topped.epoch(rng)].groupby(["track_id", "copy"]).size()
    assert (picked == 4).all()
    assert len(CropSampler(index, crops=2, min_crops=5)) == 12  # enough already


def test_an_epoch_trains_on_crops_not_on_every_segment(synthetic_features, tmp_path,
                                                       monkeypatch):
    import musicgenre.training.loop as train_module

    data = _train_slice(synthetic_features)
    versions = data.idx_train.groupby(["track_id", "copy"]).ngroups
    assert versions < len(data.idx_train)  # several segments per version in this data
    real_step = train_module.train_step
    for crops, expected in ((0, len(data.idx_train)), (1, versions), (3, 3 * versions)):
        seen = []

        def counting_step(run, rows, seen=seen):
            seen.append(len(rows))
            return real_step(run, rows)

        monkeypatch.setattr(train_module, "train_step", counting_step)
        cfg = replace(FAST_TRAIN, epochs=1, min_epochs=1, crops_per_track=crops)
        fit("cnn", data, tmp_path / f"m{crops}", tmp_path / f"live{crops}", train=cfg)
        assert sum(seen) == expected, (crops, sum(seen), expected)
    ckpt = torch.load(tmp_path / "m1/model.pt", weights_only=True)
    assert ckpt["train"]["crops_per_track"] == 1 and ckpt["device"] == "cpu"


def test_an_estimators_parameter_count_is_its_coefficients(quick_models):
    """What the report lists as an estimator's parameters: its weights and biases, nothing
    else (a missing attribute once counted as one)."""
    from musicgenre.inference.checkpoint import load_classifier

    classifier = load_classifier(quick_models / "baseline")
    final = classifier.model[-1]
    saved = json.loads((quick_models / "training/baseline/metrics.json").read_text())
    assert saved["best"]["parameters"] == final.coef_.size + final.intercept_.size
