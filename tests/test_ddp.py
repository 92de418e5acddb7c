"""Data-parallel training through Lightning Fabric: the train stage with `train.devices: 2`
runs two CPU processes (DDP over gloo), learns as well as one process, and writes one
checkpoint and one set of training curves."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from helpers.paths import ROOT
from helpers.training import SMALL_MODELS

pytestmark = pytest.mark.slow  # two trainings of a small cnn, one of them in two processes


def _train_stage(features, tmp_path, devices: int):
    """stages/train.py as DVC runs it, with params.yaml in the working directory."""
    work = tmp_path / f"devices{devices}"
    work.mkdir()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["cnn"].update(SMALL_MODELS["cnn"])
    params["train"].update(epochs=8, min_epochs=3, patience=3, crops_per_track=4,
                           min_epoch_crops=0, threads=1, devices=devices)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, str(ROOT / "stages/train.py"), "--model", "cnn",
                           "--features", str(features), "--out", "model", "--live", "live"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work, proc


def test_two_processes_learn_like_one_and_write_one_checkpoint(synthetic_features, tmp_path):
    from musicgenre.evaluation.evaluate import evaluate_classifier
    from musicgenre.features.store import load_split
    from musicgenre.inference.checkpoint import load_classifier

    one, _ = _train_stage(synthetic_features, tmp_path, 1)
    two, proc = _train_stage(synthetic_features, tmp_path, 2)
    assert "MEMBER: 2/2" in proc.stdout + proc.stderr  # Fabric started the second process
    summaries = {}
    for work in (one, two):
        summary = json.loads((work / "live/metrics.json").read_text())["best"]
        loss = (work / "live/plots/metrics/train/loss.tsv").read_text().splitlines()
        assert len(loss) - 1 == summary["epochs_run"]  # one process logged each epoch once
        summaries[work.name] = summary
    assert sorted(p.name for p in (two / "model").iterdir()) == ["calibration.json", "model.pt"]
    assert sorted(p.name for p in two.iterdir()) == ["live", "model", "params.yaml"]
    a, b = (summaries[k]["val_track_accuracy"] for k in ("devices1", "devices2"))
    print(f"validation track accuracy: 1 process {a:.3f}, 2 processes {b:.3f}")
    assert min(a, b) >= 0.5 and abs(a - b) <= 0.25  # the same band (18 validation tracks)

    classifier = load_classifier(two / "model")
    x, index = load_split(synthetic_features, "test")
    metrics, _ = evaluate_classifier(classifier, np.asarray(x), index)
    assert metrics["accuracy"] >= 0.5  # it predicts like any other checkpoint
