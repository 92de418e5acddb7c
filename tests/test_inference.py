"""Classifying files: the worker pool gives what one process gives, in order, errors kept;
checkpoints and audio are checked, and every failure is one line naming the file."""

import re

import numpy as np
import pytest

from musicgenre.core.errors import ConfigError
from musicgenre.inference.checkpoint import load_classifier
from musicgenre.inference.predict import classify_file, classify_files


@pytest.fixture(scope="module")
def files(real_genres_dir, tmp_path_factory):
    picked = [real_genres_dir / g / f"{g}.00001.wav" for g in ("metal", "classical", "pop")]
    broken = tmp_path_factory.mktemp("bad") / "broken.wav"
    broken.write_bytes(b"RIFF....not audio")
    return [picked[0], broken, *picked[1:]]


@pytest.fixture(scope="module")
def quick_files(synthetic_genres_dir, tmp_path_factory):
    picked = sorted(synthetic_genres_dir.glob("*/*.wav"))[::7]
    broken = tmp_path_factory.mktemp("bad") / "broken.wav"
    broken.write_bytes(b"RIFF....not audio")
    return [picked[0], broken, *picked[1:]]


@pytest.mark.parametrize("name", ["cnn", "baseline"])
def test_pool_matches_one_process_in_order_and_reports_bad_files(quick_models, quick_files,
                                                                 name):
    _pool_matches_one_process(quick_models / name, quick_files)


def test_pool_matches_one_process_with_embeddings_on_real_audio(trained, files):
    _pool_matches_one_process(trained[0] / "transfer", files)


def _pool_matches_one_process(model, files):
    one = list(classify_files(model, files, workers=1, progress=False))
    two = list(classify_files(model, files, workers=2, progress=False))
    assert [r[0] for r in one] == [r[0] for r in two] == [str(f) for f in files]
    for (_, p1, e1), (_, p2, e2) in zip(one, two, strict=True):
        assert (e1 is None) == (e2 is None)
        if e1 is None:
            # one thread on every path: same bits, same verdict
            np.testing.assert_array_equal(p1.proba, p2.proba)
            assert p1.label == p2.label and p1.novelty == p2.novelty
            assert p1.proba.shape == (10,) and abs(p1.proba.sum() - 1) < 1e-5
    assert one[1][1] is None and one[1][2].startswith(str(files[1]))
    # The pool and a plain call in this process agree (up to thread-count rounding).
    alone = classify_file(load_classifier(model), files[0])
    np.testing.assert_allclose(one[0][1].proba, alone.proba, atol=1e-4)


def test_a_device_that_is_not_there_is_a_clear_error(quick_models, quick_files):
    with pytest.raises(ConfigError, match="no CUDA device"):
        list(classify_files(quick_models / "cnn", quick_files, device="cuda", progress=False))


def test_allocator_tuning_is_harmless_to_repeat():
    import platform

    from musicgenre.core.process import tune_allocator

    first, second = tune_allocator(), tune_allocator()
    assert first == second
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert first  # glibc took both thresholds


class _RunsCode:
    """Unpickling this calls Path.touch: what a malicious model file could do instead."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        from pathlib import Path

        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("name", ["model.joblib", "model.pkl"])
def test_a_pickle_in_a_model_directory_is_refused_unopened(tmp_path, name):
    import pickle

    from musicgenre.core.errors import MusicGenreError

    marker = tmp_path / "code-ran"
    model_dir = tmp_path / "shared-model"
    model_dir.mkdir()
    (model_dir / name).write_bytes(pickle.dumps(_RunsCode(marker)))
    for target in (model_dir, model_dir / name):
        with pytest.raises(MusicGenreError, match="a pickle file, which could run any code"):
            load_classifier(target)
    assert not marker.exists()


def test_a_skops_file_with_unknown_types_is_refused(quick_models, tmp_path):
    import shutil

    import skops.io

    from musicgenre.core.errors import MusicGenreError

    model_dir = tmp_path / "baseline"
    shutil.copytree(quick_models / "baseline", model_dir)
    skops.io.dump({"pipeline": _RunsCode(tmp_path / "x")}, model_dir / "model.skops")
    with pytest.raises(MusicGenreError, match="not known to be safe to load"):
        load_classifier(model_dir)
    (model_dir / "model.skops").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MusicGenreError, match=r"model.skops: not a usable checkpoint"):
        load_classifier(model_dir)


@pytest.mark.parametrize("name", ["baseline", "transfer"])
def test_a_genre_missing_from_training_keeps_the_columns_right(synthetic_features, tmp_path,
                                                               name):
    """predict_proba has one column per genre seen in training (classes_); each must land in
    its own genre's column."""
    from dataclasses import replace

    from helpers.training import fit
    from musicgenre.training.data import TrainingData

    data = TrainingData.from_features_dir(synthetic_features, embeddings=name == "transfer")
    blues = data.meta["genres"].index("blues")
    keep = (data.idx_train["label"] != blues).to_numpy()
    rows = np.flatnonzero(keep)
    index = data.idx_train.loc[keep].reset_index(drop=True).assign(row=np.arange(len(rows)))
    data = replace(data, x_train=np.asarray(data.x_train)[rows], idx_train=index)
    fit(name, data, tmp_path / name, tmp_path / "live", seed=0)
    classifier = load_classifier(tmp_path / name)
    log_probs = classifier.segment_log_probs(np.asarray(data.x_val))
    assert log_probs.shape[1] == 10
    assert (log_probs[:, blues] < np.log(1e-11)).all()  # never trained: probability ~0
    others = [g for g in range(10) if g != blues]
    not_blues = (data.idx_val["label"] != blues).to_numpy()
    right = log_probs[not_blues].argmax(axis=1) == data.idx_val["label"].to_numpy()[not_blues]
    assert right.mean() > 0.5 and set(log_probs.argmax(axis=1)) <= set(others)


def test_an_hour_long_file_is_read_as_bounded_excerpts(trained, real_genres_dir, tmp_path):
    """An hour of 44.1 kHz stereo would be 1.3 GB as float32; the classifier reads
    audio.EXCERPTS excerpts of EXCERPT_S seconds instead, spread over the whole file."""
    import tracemalloc

    import soundfile as sf

    from musicgenre.data.audio import EXCERPT_S, EXCERPTS, load_excerpts

    track, sr = sf.read(real_genres_dir / "jazz/jazz.00002.wav", dtype="int16")
    hour = tmp_path / "hour.wav"
    with sf.SoundFile(hour, "w", samplerate=sr, channels=1, subtype="PCM_16") as out:
        for _ in range(120):  # 120 x 30 s = one hour, written without holding it in memory
            out.write(track)
    tracemalloc.start()
    excerpts = load_excerpts(hour, 22050)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(excerpts) == EXCERPTS
    assert all(len(e) == int(EXCERPT_S * 22050) for e in excerpts)
    assert peak < 200e6  # the whole hour at 22.05 kHz float32 alone would be 318 MB
    proba = classify_file(load_classifier(trained[0] / "transfer"), hour).proba
    assert proba.shape == (10,) and abs(proba.sum() - 1) < 1e-6


@pytest.mark.parametrize(("name", "change", "message"), [
    ("baseline", {"model": "nope"}, "model 'nope' is not registered"),
    ("baseline", {"features": {"n_mels": "many"}}, r"features.n_mels: expected an integer"),
    ("cnn", {"config": {"channels": [8], "kernel": 5}}, r"cnn.kernel: unknown key"),
])
def test_a_checkpoint_header_is_checked_like_params(quick_models, tmp_path, name, change,
                                                    message):
    """The model's name must be registered, and its config and feature parameters parse
    with the same checks as params.yaml: one line naming the file and the key."""
    import json
    import shutil

    import torch

    from musicgenre.core.errors import MusicGenreError

    model_dir = tmp_path / name
    shutil.copytree(quick_models / name, model_dir)
    if name == "cnn":
        payload = torch.load(model_dir / "model.pt", weights_only=True)
        payload.update(change)
        torch.save(payload, model_dir / "model.pt")
    else:
        header = json.loads((model_dir / "model.json").read_text())
        for key, value in change.items():
            header[key] = {**header[key], **value} if isinstance(value, dict) else value
        (model_dir / "model.json").write_text(json.dumps(header))
    with pytest.raises(MusicGenreError, match=message) as caught:
        load_classifier(model_dir)
    assert str(model_dir) in str(caught.value) and "\n" not in str(caught.value)


def test_unusable_audio_is_one_clear_error_and_long_files_are_bounded(quick_models, tmp_path):
    import soundfile as sf

    from musicgenre.core.errors import AudioError

    classifier = load_classifier(quick_models / "cnn")
    sr = classifier.features.sample_rate
    rng = np.random.default_rng(0)
    cases = {"short.wav": (0.1 * rng.standard_normal(sr // 4), "too short (0.25 s); at "
                                                               "least 1 s of audio is needed"),
             "silent.wav": (np.zeros(3 * sr), "silent or nearly (RMS -200.0 dBFS"),
             "nan.wav": (np.r_[np.nan, 0.1 * rng.standard_normal(3 * sr)],
                         "1 sample(s) are NaN or infinite")}
    for name, (audio, message) in cases.items():
        sf.write(tmp_path / name, audio.astype(np.float32), sr, subtype="FLOAT")
        with pytest.raises(AudioError, match=re.escape(f"{tmp_path / name}: {message}")):
            classify_file(classifier, tmp_path / name)
    with pytest.raises(AudioError, match="no such file"):
        classify_file(classifier, tmp_path / "absent.wav")
    sf.write(tmp_path / "noise.wav", (0.1 * rng.standard_normal(4 * sr)).astype(np.float32), sr)
    proba = classify_file(classifier, tmp_path / "noise.wav").proba
    assert proba.shape == (10,) and proba.sum() == pytest.approx(1.0)


POOL_AFTER_A_NETWORK = """
import sys
import torch
from musicgenre import models
from musicgenre.core.parallel import OrderedPool

WEIGHTS = sys.argv[1]
NET = {}

def network():
    spec = models.get("cnn")
    return spec.network(spec.config(), 128, 130, 10).eval()  # the default size

def load_weights():  # what a worker's setup does with a checkpoint
    NET["net"] = network()
    NET["net"].load_state_dict(torch.load(WEIGHTS, weights_only=True))

def forward(seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        return int(NET["net"](torch.randn(2, 128, 130)).argmax(dim=1).sum())

if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.save(network().state_dict(), WEIGHTS)
    load_weights()  # this process has now run torch's OpenMP parallel regions
    with OrderedPool(2, load_weights) as pool:
        print(list(pool.map(forward, range(4), progress=False)))
"""


def test_a_pool_started_after_running_a_network_does_not_hang(tmp_path):
    """Pool workers used to be forks of the caller, which inherit its OpenMP (libgomp)
    thread-pool state: after the caller had loaded a default-size network, a worker loading
    one too waited forever (the robustness stage of a cnn hung so on real tracks)."""
    import subprocess
    import sys

    script = tmp_path / "pool_after_network.py"
    script.write_text(POOL_AFTER_A_NETWORK)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "weights.pt")],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert len(eval(proc.stdout.strip().splitlines()[-1])) == 4
