"""The model registry: a model is one module plus one registry line, and nothing else in the
library decides anything by a model's name."""

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from helpers.paths import ROOT
from helpers.training import FAST_TRAIN
from musicgenre import models
from musicgenre.config import load_params
from musicgenre.core.errors import ConfigError


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(models.REGISTRY, "tiny", "helpers.tiny_model")
    return models.get("tiny")


def _params_file(tmp_path: Path, **changes) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_a_registered_model_trains_evaluates_and_predicts(tiny, synthetic_features,
                                                          synthetic_genres_dir, tmp_path):
    from musicgenre.evaluation.evaluate import compact_metrics, evaluate_split
    from musicgenre.inference.checkpoint import load_classifier
    from musicgenre.inference.predict import classify_files
    from musicgenre.training.fit import train_model

    path = _params_file(tmp_path, model="tiny", models=["tiny"], tiny={"hidden": 12})
    params = load_params("seed", "model", "models", "train", "tiny", path=path)
    assert params["tiny"].hidden == 12 and params["models"] == ["tiny"]
    params["train"] = replace(FAST_TRAIN, epochs=3, min_epochs=1)

    summary = train_model(tiny, params, synthetic_features, tmp_path / "model",
                          tmp_path / "live").info["summary"]
    assert summary["epochs_run"] <= 3 and (tmp_path / "model" / "model.pt").exists()
    assert json.loads((tmp_path / "model" / "calibration.json").read_text())["temperature"] >= 1

    metrics = evaluate_split(tmp_path / "model", synthetic_features, tmp_path / "eval")
    assert metrics["model"] == "tiny" and metrics["n_tracks"] > 0
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text()) == metrics
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == compact_metrics(metrics)

    classifier = load_classifier(tmp_path / "model")
    assert classifier.spec is tiny and classifier.model.head[0].out_features == 12
    files = sorted(synthetic_genres_dir.glob("*/*.wav"))[:3]
    results = list(classify_files(tmp_path / "model", files, workers=1, progress=False))
    assert [Path(p) for p, _, _ in results] == files
    for _, prediction, error in results:
        assert error is None and prediction.proba.shape == (10,)
        assert prediction.proba.sum() == pytest.approx(1.0)


def test_params_name_only_registered_models(tmp_path):
    path = _params_file(tmp_path, models=["cnn", "tiny"])
    with pytest.raises(ConfigError, match=r"models\[1\]: must be one of .*got 'tiny'"):
        load_params("models", path=path)
    with pytest.raises(ConfigError, match="tiny: unknown top-level key"):
        load_params("seed", path=_params_file(tmp_path, tiny={"hidden": 3}))
    with pytest.raises(ConfigError, match="model 'tiny' is not registered"):
        models.get("tiny")


def test_every_registered_model_has_a_matching_spec():
    for name in models.names():
        spec = models.get(name)
        assert spec.name == name and (spec.network is None) != (spec.estimator is None)


def test_no_library_module_decides_by_a_model_name():
    """Outside models/ no string literal in src/ is a model's name: what differs between
    models comes from their specs."""
    names = set(models.names())
    found = []
    for path in sorted((ROOT / "src" / "musicgenre").rglob("*.py")):
        if "models" in path.relative_to(ROOT / "src" / "musicgenre").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, found
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(params["models"]) <= names and all(name in params for name in names)


def test_model_modules_load_only_when_asked():
    """Reading the names (every stage parses params) does not import torch."""
    import subprocess
    import sys

    code = ("import sys; from musicgenre import models; from musicgenre.config import "
            "load_params; load_params('seed', 'model', 'models', 'genres'); "
            "print('torch' in sys.modules, 'musicgenre.models.cnn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
