"""The report stage on real evaluation outputs of two quickly trained models: the headline
metrics file is the headline model's evaluation, the comparison matches every model's, and
every figure the report shows exists."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.paths import ROOT
from musicgenre.core.atomic import write_json
from musicgenre.data.config import SplitConfig
from musicgenre.data.split import split_protocol
from musicgenre.data.tables import write_split
from musicgenre.evaluation.config import RobustnessConfig
from musicgenre.evaluation.evaluate import compact_metrics, evaluate_classifier, evaluate_split
from musicgenre.evaluation.report import HEADLINE_KEYS, build_report
from musicgenre.evaluation.robustness import run_robustness

MODELS = ["baseline", "cnn"]


@pytest.fixture(scope="module")
def built_reports(quick_models, quick_features, quick_split, tmp_path_factory):
    """reports/ as the stages before `report` leave it (built once for the module)."""
    tmp_path = tmp_path_factory.mktemp("report")
    manifest, split, counts = quick_split
    out = tmp_path / "reports"
    for name in MODELS:
        evaluate_split(quick_models / name, quick_features, out / "eval" / name)
        shutil.copytree(quick_models / "training" / name, out / "training" / name)
    cfg = SplitConfig(train=0.4, val=0.3, test=0.3)
    write_split(split, counts, tmp_path / "split.csv", out / "split_counts.csv",
                split_protocol(split, cfg, counts), out / "split.json")
    conditions = RobustnessConfig(snr_db=[10.0], pitch_semitones=[2.0], tempo_percent=[],
                                  mp3_kbps=[], reverb_room=[], telephone=False,
                                  resample_hz=[], gain_db=[])
    run_robustness(quick_models / "cnn", manifest, split, conditions, 1,
                   out / "robustness.json")
    write_json(out / "validation" / "summary.json", {
        "n_files": 31, "n_kept": 30, "policy": "drop", "duplicate_groups": [],
        "bad_files": [{"path": "genres/rock/bad.wav", "problems": ["unreadable"]}]})
    write_json(tmp_path / "source.json", {"source": "synthetic", "n_tracks": 30})
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    return out


@pytest.fixture
def reports(built_reports, tmp_path):
    """A fresh copy of the built reports/ (with source.json beside it) for each test."""
    shutil.copy(built_reports.parent / "source.json", tmp_path / "source.json")
    shutil.copy(built_reports.parent / "manifest.csv", tmp_path / "manifest.csv")
    return Path(shutil.copytree(built_reports, tmp_path / "reports"))


def test_report_shows_the_pipeline_numbers(reports):
    metrics = build_report("cnn", MODELS, reports, reports.parent / "source.json",
                           ROOT / "params.yaml", reports.parent / "manifest.csv")
    evaluated = {name: json.loads((reports / "eval" / name / "metrics.json").read_text())
                 for name in MODELS}
    headline = {"model": "cnn", **{k: evaluated["cnn"][k] for k in HEADLINE_KEYS}}
    assert metrics == headline
    assert json.loads((reports / "metrics.json").read_text()) == headline

    table = json.loads((reports / "models.json").read_text())
    assert [row["model"] for row in table] == MODELS
    for row in table:
        assert row["accuracy"] == pytest.approx(evaluated[row["model"]]["accuracy"])
        live = json.loads((reports / "training" / row["model"] / "metrics.json").read_text())
        assert row["val_track_accuracy"] == live["best"]["val_track_accuracy"]
    assert table[1]["best_epoch"] == live["best"]["best_epoch"] and table[0]["best_epoch"] is None

    text = (reports / "report.md").read_text()
    acc = evaluated["cnn"]["accuracy"]
    assert f"track-level test accuracy **{100 * acc:.1f}%**" in text
    assert f"{evaluated['cnn']['n_tracks']} test tracks" in text
    assert "Artists with tracks in both train and test" in text
    assert "| `genres/rock/bad.wav` | unreadable |" in text
    robustness = json.loads((reports / "robustness.json").read_text())
    for row in robustness["conditions"]:
        assert f"| {row['condition']} | {100 * row['accuracy']:.1f}% |" in text
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    # accuracy, per-genre, confusions (counts and shares), reliability, loss, robustness
    assert len(images) == 2 + len(MODELS) + 3
    for image in images:
        assert (reports / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_test_split_the_report_says_so(reports, quick_models, quick_features):
    from musicgenre.features.store import load_split
    from musicgenre.inference.checkpoint import load_classifier

    for name in MODELS:  # what evaluate writes when split.test is 0
        classifier = load_classifier(quick_models / name)
        x, index = load_split(quick_features, "test")
        empty, _ = evaluate_classifier(classifier, np.asarray(x)[:0], index.iloc[:0])
        write_json(reports / "eval" / name / "evaluation.json", empty)
        write_json(reports / "eval" / name / "metrics.json", compact_metrics(empty))
    metrics = build_report("cnn", MODELS, reports, reports.parent / "source.json")
    assert metrics["n_tracks"] == 0 and metrics["accuracy"] is None
    text = (reports / "report.md").read_text()
    assert "**No test split**" in text and "musicgenre evaluate" in text
    assert "## Per-genre results" not in text and "## Robustness" not in text
    assert not (reports / "figures" / "accuracy_by_model.png").exists()


def test_a_missing_input_is_one_clear_error(reports):
    from musicgenre.core.errors import MusicGenreError

    (reports / "robustness.json").unlink()
    with pytest.raises(MusicGenreError, match="robustness.json: missing; run the stages"):
        build_report("cnn", MODELS, reports, reports.parent / "source.json")


def test_report_explains_its_errors(reports):
    """Top-2 accuracy, every test track the headline model got wrong, per-genre scores of
    every model, a paired test against the headline model, and what produced it."""
    import hashlib

    from musicgenre.core.metrics import mcnemar_exact

    build_report("cnn", MODELS, reports, reports.parent / "source.json", ROOT / "params.yaml",
                 reports.parent / "manifest.csv")
    text = (reports / "report.md").read_text()
    predictions = {m: pd.read_csv(reports / "eval" / m / "predictions.csv") for m in MODELS}
    head = predictions["cnn"]
    wrong = head[head["true"] != head["predicted"]]
    section = text.split("## Test tracks cnn got wrong")[1].split("\n## ")[0]
    assert len([line for line in section.splitlines() if line.startswith("| ")]) == \
        len(wrong) + 1  # the header row
    for row in wrong.itertuples():
        p = getattr(row, f"p_{row.predicted_genre}")
        assert f"| {row.track_id} | {row.true_genre} | {row.predicted_genre} | {p:.2f} |" in text
    right = {m: (f["true"] == f["predicted"]).to_numpy() for m, f in predictions.items()}
    only_head = int((right["cnn"] & ~right["baseline"]).sum())
    only_base = int((right["baseline"] & ~right["cnn"]).sum())
    assert (f"| baseline | {len(head)} | {only_head} | {only_base} | "
            f"{mcnemar_exact(only_head, only_base):.3f} |") in text
    evaluation = json.loads((reports / "eval/baseline/evaluation.json").read_text())
    blues = evaluation["per_genre"]["blues"]
    assert f"{blues['precision']:.2f} / {blues['recall']:.2f} / {blues['f1']:.2f}" in text
    metrics = json.loads((reports / "eval/cnn/metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= metrics["top2_accuracy"] <= 1
    provenance = json.loads((reports / "provenance.json").read_text())
    assert provenance["params_sha256"] == hashlib.sha256(
        (ROOT / "params.yaml").read_bytes()).hexdigest()
    assert len(provenance["data_sha256"]) == 64 and provenance["packages"]["torch"]
    assert f"params.yaml sha256: `{provenance['params_sha256']}`" in text
    assert "## Calibration: cnn" in text and (reports / "figures/reliability.png").exists()
