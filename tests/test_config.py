import shutil

import pytest
import yaml

from helpers.dvc_repo import run
from helpers.paths import ROOT
from musicgenre.config import load_params, load_section
from musicgenre.core.errors import ConfigError


def params_with(tmp_path, **changes):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = params
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_project_params_load():
    params = load_params("seed", "model", "models", "genres", "data", "validate", "split",
                         "features", "transfer", path=ROOT / "params.yaml")
    assert params["model"] == "transfer"
    assert params["features"].embedding == "MSD_musicnn+MTT_musicnn"
    assert params["data"].source in ("gtzan", "gtzan-mini", "fma", "folder", "synthetic")
    assert params["split"].train + params["split"].val + params["split"].test == pytest.approx(1)
    assert params["genres"] == "auto"  # the source's own: GTZAN's ten for gtzan
    fma = params["data"].fma
    assert fma.subset == "small" and len(fma.audio.sha1) == 40 and fma.metadata.sha1


@pytest.mark.parametrize(
    ("changes", "section", "message"),
    [
        ({"split__train": 0.8}, "split", "split.train + split.val + split.test: must sum to 1"),
        ({"split__train": "0.7"}, "split", "split.train: expected a number"),
        ({"split__shuffle": True}, "split", "split.shuffle: unknown key"),
        ({"split__method": "random"}, "split", "split.method: must be one of"),
        ({"model": "transformer"}, "model",
         "model: must be one of cnn | rnn | crnn | baseline | transfer"),
        ({"features__embedding": "vggish"}, "features",
         "features.embedding: must be null or networks of MSD_musicnn | MTT_musicnn | MSD_vgg "
         "| MTT_vgg joined by '+', got 'vggish'"),
        ({"transfer__C": 0}, "transfer", "transfer.C: must be a finite number > 0, got 0"),
        ({"data__source": "youtube"}, "data", "data.source: must be one of"),
        ({"data__source": "folder", "data__path": None}, "data", "data.path: required"),
        ({"data__synthetic__tracks_per_genre": 2.5}, "data",
         "data.synthetic.tracks_per_genre: expected an integer"),
        ({"validate__policy": "ignore"}, "validate", "validate.policy: must be one of drop | fail"),
        ({"data__gtzan": {"urls": ["http://127.0.0.1/g.tar.gz"], "filename": "g.tar.gz",
                          "sha256": "abc"}}, "data", "data.gtzan.sha256: expected 64 hex digits"),
        ({"train__ema_epochs": -1}, "train", "stop_val_loss and threads must be >= 0"),
        ({"train__crops_per_track": -1}, "train", "crops_per_track, min_epoch_crops"),
        ({"train__device": "tpu"}, "train", "train.device: "
         "must be one of auto | cpu | cuda | mps"),
        ({"features__embed_augmented": "yes"}, "features",
         "features.embed_augmented: expected true or false"),
        ({"cnn__dropout": 1.0}, "cnn", "cnn.dropout: must be in [0, 1), got 1.0"),
        ({"rnn__dropout": -0.1}, "rnn", "rnn.dropout: must be in [0, 1)"),
        ({"crnn__channels": []}, "crnn", "crnn.channels: need at least one positive channel"),
    ],
)
def test_bad_values_name_the_key(tmp_path, changes, section, message):
    path = params_with(tmp_path, **changes)
    with pytest.raises(ConfigError) as err:
        load_params(section, path=path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_zero_test_fraction_allowed(tmp_path):
    path = params_with(tmp_path, split__train=0.85, split__val=0.15, split__test=0.0)
    assert load_section("split", path=path).test == 0.0


def test_unknown_top_level_key(tmp_path):
    path = params_with(tmp_path, modle="cnn")
    with pytest.raises(ConfigError, match="modle: unknown top-level key"):
        load_params("seed", path=path)


def test_stage_reports_bad_param_in_one_line(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "stages", repo / "stages")
    params_with(repo, split__val=0.5)
    proc = run(["python", "stages/split.py", "--manifest", "m.csv", "--out", "s.csv",
                "--counts", "c.csv", "--protocol", "p.json"], repo,
               check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == ["split: error: split.train + split.val + split.test: must sum to 1, got 1.35"]


def test_set_params_changes_only_the_values(tmp_path):
    """`make repro SOURCE=...` goes through set-params: `git diff params.yaml` afterwards shows
    the changed lines only (comments, flow lists and nulls as written)."""
    import difflib

    from musicgenre.config import set_params

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    before = path.read_text().splitlines()
    changed = set_params(["data.source=synthetic", "models=[baseline, transfer]",
                          "augment.noise.low=5"], path)
    assert changed == {"data.source": "synthetic", "models": ["baseline", "transfer"],
                       "augment.noise.low": 5}
    after = path.read_text().splitlines()
    removed = [line for line in difflib.ndiff(before, after) if line.startswith("- ")]
    added = [line for line in difflib.ndiff(before, after) if line.startswith("+ ")]
    assert len(removed) == len(added) == 3 and len(after) == len(before)
    assert added[0].startswith("+ models: [baseline, transfer]") and "#" in added[0]
    assert any(line.startswith("+   source: synthetic") for line in added)
    assert any("noise: {p: 0.5, low: 5, high: 40.0}" in line for line in added)
    params = load_params("data", "models", "augment", path=path)
    assert params["data"].source == "synthetic" and params["augment"].noise.low == 5


@pytest.mark.parametrize("assignment, message", [
    ("train.lr=abc", "train.lr: expected a number"),
    ("model=foo", "model: must be one of"),
    ("models=[baseline]", "model: 'transfer' must also be listed in models"),
    ("data.gtzan.nope=3", "data.gtzan.nope: unknown key"),
    ("nosuch.x=1", "nosuch: not a section"),
    ("seed.x=1", "seed: not a section"),
    ("features.segment_s", "expected key=value"),
])
def test_set_params_refuses_bad_values_and_leaves_the_file(tmp_path, assignment, message):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    before = path.read_bytes()
    proc = run(["musicgenre", "set-params", assignment, "--params", str(path)], tmp_path,
               check=False)
    assert proc.returncode == 1 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert path.read_bytes() == before


def test_make_repro_with_a_source_sets_it_without_dvc_rewriting_params():
    import subprocess

    dry = subprocess.run(["make", "-n", "-o", ".venv/.installed", "repro", "SOURCE=synthetic"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "set-params data.source=synthetic" in dry and " -S " not in dry


def test_params_hold_choices_not_source_facts():
    """`dvc exp show` gets one column per value: at most 100, none a URL or a checksum (those
    are in data/sources.py, which the loaded params still carry as defaults)."""
    import re

    def leaves(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from leaves(v, f"{key}{k}.")
        else:
            yield key[:-1], node

    values = list(leaves(yaml.safe_load((ROOT / "params.yaml").read_text())))
    assert len(values) <= 100
    for key, value in values:
        assert not re.search(r"https?://|^[0-9a-f]{32,64}$", str(value)), key
    data = load_section("data", path=ROOT / "params.yaml")
    assert data.gtzan.sha256 and data.fma.small.sha1 and data.artists.gtzan_index.urls
    assert load_section("split", path=ROOT / "params.yaml").fault_filtered.base_urls


def test_set_params_adds_a_key_whose_default_is_in_the_code(tmp_path):
    from musicgenre.config import set_params

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    set_params(["data.download.timeout_s=5", "train.device=cpu"], path)
    assert load_section("data", path=path).download.timeout_s == 5
    assert load_section("train", path=path).device == "cpu"
