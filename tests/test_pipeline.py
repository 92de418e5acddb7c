"""End to end in a temporary git + DVC repo: `dvc repro` on synthetic audio and its caching."""

import json

import pandas as pd
import pytest

from conftest import dvc, update_params

SMALL_SYNTHETIC = {"data.source": "synthetic", "data.synthetic.tracks_per_genre": 4,
                   "data.synthetic.duration_s": 6.0}


def ran_stages(proc) -> list[str]:
    return [line.split("'")[1] for line in proc.stdout.splitlines()
            if line.startswith("Running stage")]


@pytest.mark.slow
def test_repro_split_and_caching(project_copy):
    update_params(project_copy, SMALL_SYNTHETIC)
    first = dvc("repro", "split", cwd=project_copy)
    assert ran_stages(first) == ["download", "validate", "split"]
    split = pd.read_csv(project_copy / "data/interim/split.csv")
    assert len(split) == 40 and set(split["split"]) == {"train", "val", "test"}
    summary = json.loads((project_copy / "reports/validation/summary.json").read_text())
    assert summary["success"] and summary["n_kept"] == 40
    source = json.loads((project_copy / "data/raw/source.json").read_text())
    assert source["source"] == "synthetic" and source["n_tracks"] == 40

    again = dvc("repro", "split", cwd=project_copy)
    assert ran_stages(again) == []
    assert "didn't change" in again.stdout or "up to date" in again.stdout.lower()

    update_params(project_copy, {"split.train": 0.6, "split.val": 0.2, "split.test": 0.2})
    status = dvc("status", cwd=project_copy).stdout
    assert "split" in status and "download" not in status and "validate:" not in status
    third = dvc("repro", "split", cwd=project_copy)
    assert ran_stages(third) == ["split"]
    assert not pd.read_csv(project_copy / "data/interim/split.csv").equals(split)
