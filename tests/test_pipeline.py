"""End to end in a temporary git + DVC repo: `dvc repro` on synthetic audio and its caching."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers.dvc_repo import TINY, dvc, git, run, update_params
from musicgenre.evaluation.evaluate import METRIC_KEYS
from musicgenre.evaluation.report import HEADLINE_KEYS

SMALL_SYNTHETIC = {"data.source": "synthetic", "data.synthetic.tracks_per_genre": 4,
                   "data.synthetic.duration_s": 6.0, "augment.copies": 1}


def ran_stages(proc) -> list[str]:
    return [line.split("'")[1] for line in proc.stdout.splitlines()
            if line.startswith("Running stage")]


@pytest.mark.slow
def test_repro_data_stages_and_caching(project_copy):
    update_params(project_copy, SMALL_SYNTHETIC)
    first = dvc("repro", "features", cwd=project_copy)
    assert ran_stages(first) == ["download", "validate", "split", "features"]
    split = pd.read_csv(project_copy / "data/interim/split.csv")
    assert len(split) == 40 and split["split"].value_counts().to_dict() == {
        "train": 28, "val": 6, "test": 6}
    summary = json.loads((project_copy / "reports/validation/summary.json").read_text())
    assert summary["success"] and summary["n_kept"] == 40
    source = json.loads((project_copy / "data/raw/source.json").read_text())
    assert source["source"] == "synthetic" and source["n_tracks"] == 40
    meta = json.loads((project_copy / "data/features/meta.json").read_text())
    assert meta["splits"]["train"]["tracks"] == 28

    again = dvc("repro", "features", cwd=project_copy)
    assert ran_stages(again) == []

    # A model choice never touches the data or feature stages.
    update_params(project_copy, {"model": "rnn"})
    assert ran_stages(dvc("repro", "features", cwd=project_copy)) == []

    # An augmentation param reruns features only.
    update_params(project_copy, {"augment.noise.p": 1.0})
    status = dvc("status", cwd=project_copy).stdout
    assert "features:" in status and "split:" not in status and "download:" not in status
    assert ran_stages(dvc("repro", "features", cwd=project_copy)) == ["features"]

    # A split param reruns split and what depends on it, not download or validate.
    update_params(project_copy, {"split.train": 0.6, "split.val": 0.2, "split.test": 0.2})
    third = dvc("repro", "features", cwd=project_copy)
    assert ran_stages(third) == ["split", "features"]
    assert not pd.read_csv(project_copy / "data/interim/split.csv").equals(split)


@pytest.mark.slow
def test_full_pipeline_experiments_and_pr_report(project_copy):
    update_params(project_copy, TINY)
    first = dvc("repro", cwd=project_copy)
    ran = ran_stages(first)
    for stage in ("download", "features", "train@baseline", "train@cnn", "train@rnn",
                  "train@crnn", "train@transfer", "evaluate@transfer", "robustness", "report"):
        assert stage in ran, stage

    reports = project_copy / "reports"
    # The headline metrics file is the headline model's evaluation, and that evaluation is
    # its per-track predictions, scored.
    metrics = json.loads((reports / "metrics.json").read_text())
    evaluated = json.loads((reports / "eval/transfer/evaluation.json").read_text())
    assert metrics == {"model": "transfer", **{k: evaluated[k] for k in HEADLINE_KEYS}}
    # every model's compact metrics are DVC metrics at a stable path
    shown = json.loads(dvc("metrics", "show", "--json", cwd=project_copy).stdout)
    files = next(iter(shown.values()))["data"]
    for name in ("baseline", "cnn", "rnn", "crnn", "transfer"):
        compact = files[f"reports/eval/{name}/metrics.json"]["data"]
        assert list(compact) == list(METRIC_KEYS) and 0 <= compact["accuracy"] <= 1
    predictions = pd.read_csv(reports / "eval/transfer/predictions.csv")
    assert len(predictions) == metrics["n_tracks"] > 0
    assert metrics["accuracy"] == (predictions["true"] == predictions["predicted"]).mean()
    comparison = json.loads((reports / "models.json").read_text())
    assert [m["model"] for m in comparison] == ["baseline", "cnn", "rnn", "crnn", "transfer"]
    report = (reports / "report.md").read_text()
    for section in ("## Data quality", "## Split", "## Models", "## Per-genre results",
                    "## Confusion matrices", "## Loss curves", "## Robustness",
                    "Most confused genre pairs"):
        assert section in report, section
    import re

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) >= 8
    for image in images:
        png = reports / image
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
    plots = dvc("plots", "show", "--json", cwd=project_copy, check=False)
    assert plots.returncode == 0, plots.stderr

    git("add", "-A", cwd=project_copy)
    git("commit", "-qm", "a run", cwd=project_copy)
    base = git("rev-parse", "HEAD", cwd=project_copy).stdout.strip()

    # A code change in this checkout's library: the stage that imports it reruns with *this*
    # checkout's code (dvc.yaml's PYTHONPATH=src), not the installed package's, so a base
    # branch reproduced beside a pull request runs its own code too.
    report_code = project_copy / "src/musicgenre/evaluation/report.py"
    report_code.write_text(report_code.read_text().replace('"segment_macro_f1",\n', "", 1))
    assert '"segment_macro_f1"' not in report_code.read_text().split("def ")[0]
    code = dvc("repro", cwd=project_copy)
    assert ran_stages(code) == ["report"], code.stdout
    code_diff = json.loads(dvc("metrics", "diff", base, "--json", cwd=project_copy).stdout)
    assert code_diff["reports/metrics.json"]["segment_macro_f1"]["new"] is None
    git("add", "-A", cwd=project_copy)
    git("commit", "-qm", "report without segment_macro_f1", cwd=project_copy)

    # The headline model is a presentation choice: nothing is retrained or re-extracted.
    exp = dvc("exp", "run", "-S", "model=rnn", cwd=project_copy)
    assert set(ran_stages(exp)) == {"robustness", "report"}, exp.stdout
    assert json.loads((reports / "metrics.json").read_text())["model"] == "rnn"
    show = dvc("exp", "show", "--md", cwd=project_copy).stdout
    assert "accuracy" in show and "macro_f1" in show
    # `make experiments`: one row per experiment, every model's accuracy, the params that
    # differ, nothing cut short at 250 columns (after a run that retrains the networks)
    dvc("exp", "run", "-S", "train.lr=0.01", "-S", "model=transfer", cwd=project_copy)
    table = run([str(Path(sys.executable).parent / "musicgenre"), "experiments"],
                project_copy).stdout
    lines = table.splitlines()
    assert lines[0].split()[:7] == ["experiment", "baseline", "cnn", "rnn", "crnn", "transfer",
                                    "headline"]
    assert all(len(line) <= 250 and "\u2026" not in line for line in lines)
    rows = [line for line in lines[2:] if line and not line.startswith("Track-level")]
    assert len(rows) == 4  # workspace, the baseline commit, the two experiments
    assert any(row.endswith("model=rnn") for row in rows)
    assert any(row.endswith("train.lr=0.01") for row in rows)
    assert all(row.count("%") == 5 for row in rows)

    # The PR report shows the changed params and every changed metrics file.

    proc = run([str(Path(sys.executable).parent / "musicgenre"), "pr-report", "--base", base,
                "--out", "pr.md"], project_copy)
    text = (project_copy / "pr.md").read_text()
    assert proc.stdout.strip() == text.strip()
    assert "| model" in text and "transfer" in text and "rnn" in text
    assert "reports/eval/crnn/metrics.json" in text  # every model's metrics, not the headline's
    diff = json.loads(dvc("metrics", "diff", base, "--json", cwd=project_copy).stdout)
    # the networks were retrained with another learning rate: their metrics files changed
    changed = {f: [k for k, v in m.items() if v.get("diff")] for f, m in diff.items()}
    assert any(changed.get(f"reports/eval/{n}/metrics.json") for n in ("cnn", "rnn", "crnn"))
    for path, keys in changed.items():
        assert path in text and all(key in text for key in keys)


@pytest.mark.slow
def test_no_test_split_repro_completes_and_says_so(project_copy):
    """split.test = 0 (train a final model on everything, evaluate elsewhere) is documented
    as allowed: every stage must run and the report must say there is no test split."""
    update_params(project_copy, {**TINY, "split.train": 0.85, "split.val": 0.15,
                                 "split.test": 0.0, "models": ["baseline", "cnn"],
                                 "model": "cnn", "features.embedding": None})
    proc = dvc("repro", cwd=project_copy)
    assert "report" in ran_stages(proc)
    protocol = json.loads((project_copy / "reports/split.json").read_text())
    assert protocol["tracks"]["test"] == 0 and protocol["group_by"] == "track"
    metrics = json.loads((project_copy / "reports/metrics.json").read_text())
    assert metrics["n_tracks"] == 0 and metrics["accuracy"] is None
    report = (project_copy / "reports/report.md").read_text()
    assert "**No test split**" in report and "musicgenre evaluate" in report
    assert "| baseline | n/a" in report and "| **cnn** | n/a" in report
    robustness = json.loads((project_copy / "reports/robustness.json").read_text())
    assert all(c["n_tracks"] == 0 for c in robustness["conditions"])
