"""End to end in a temporary git + DVC repo: `dvc repro` on synthetic audio and its caching."""

import json

import pandas as pd
import pytest

from conftest import dvc, update_params

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
