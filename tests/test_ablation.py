"""`musicgenre ablation` (make ablation): a grid of queued DVC experiments run 2 at a time,
and a report read from the experiments' own results."""

import json
import sys
from pathlib import Path

import pytest

from helpers.dvc_repo import TINY, dvc, git, run, update_params

CLI = str(Path(sys.executable).parent / "musicgenre")


@pytest.mark.slow  # two tiny pipelines, run by two queue workers (~2 min)
def test_two_queued_experiments_in_parallel_and_their_table(project_copy):
    update_params(project_copy, {**TINY, "features.embedding": None})
    git("commit", "-qam", "tiny", cwd=project_copy)
    proc = run([CLI, "ablation", "--sets", "mfcc,chroma", "--copies", "0", "--jobs", "2",
                "--models", "cnn"], project_copy)
    assert "2 experiments" in proc.stdout.splitlines()[-1]

    status = dvc("queue", "status", cwd=project_copy).stdout
    assert status.count("Success") == 2 and "Failed" not in status
    # The table against what DVC itself reports for each experiment's headline metrics
    # (the first from-scratch network is the experiments' headline model).
    text = (project_copy / "reports/ablation.md").read_text()
    shown = json.loads(dvc("exp", "show", "--json", cwd=project_copy).stdout)
    experiments = [rev for entry in shown for exp in entry.get("experiments") or []
                   for rev in exp["revs"]]
    assert len(experiments) == 2
    for rev in experiments:
        data = rev["data"]
        params = data["params"]["params.yaml"]["data"]
        assert params["models"] == ["cnn"] and params["augment"]["copies"] == 0
        assert params["train"]["threads"] >= 1  # each job its share of the cores
        headline = data["metrics"]["reports/metrics.json"]["data"]
        row = (f"| {params['features']['set']} | 0 | {params['model']} | "
               f"{100 * headline['accuracy']:.1f}% [{100 * headline['accuracy_ci95_low']:.1f}, "
               f"{100 * headline['accuracy_ci95_high']:.1f}] | {headline['macro_f1']:.3f} |")
        assert row in text, row
    assert text.count("\n| mfcc |") == 1 and text.count("\n| chroma |") == 1
    assert (project_copy / "reports/ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ablation_trains_only_from_scratch_networks():
    from musicgenre.core.errors import MusicGenreError
    from musicgenre.evaluation.ablation import chosen_networks

    assert chosen_networks(None) == ["cnn", "rnn", "crnn"]
    assert chosen_networks(["crnn", "cnn", "crnn"]) == ["crnn", "cnn"]
    with pytest.raises(MusicGenreError, match="got transfer"):
        chosen_networks(["cnn", "transfer"])
