"""The `musicgenre` console script on real audio, other formats and bad input."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from helpers.cli import invoke
from helpers.dvc_repo import run

CLI = str(Path(sys.executable).parent / "musicgenre")
TOLERANCE = 0.05  # largest change of a genre probability between encodings of one track


@pytest.fixture(scope="module")
def audio_files(real_genres_dir, tmp_path_factory):
    """A real dev track, the same as mp3 and flac, a stereo 44.1 kHz copy, and bad inputs."""
    d = tmp_path_factory.mktemp("cli_audio")
    src = real_genres_dir / "blues/blues.00000.wav"
    shutil.copy(src, d / "real.wav")
    audio, sr = sf.read(src, dtype="float32")
    sf.write(d / "real.mp3", audio, sr)
    sf.write(d / "real.flac", audio, sr)
    stereo = soxr.resample(audio, sr, 44100)  # two different channels whose mean is the track
    sf.write(d / "stereo44k.wav", np.stack([1.25 * stereo, 0.75 * stereo], axis=1), 44100,
             subtype="FLOAT")
    (d / "notes.txt").write_text("this is not audio\n")
    (d / "empty.wav").write_bytes(b"")
    sf.write(d / "short.wav", audio[: sr // 2], sr)
    poisoned = audio.copy()  # float WAVs can carry NaN and Inf
    poisoned[1000], poisoned[2000] = np.nan, np.inf
    sf.write(d / "nan.wav", poisoned, sr, subtype="FLOAT")
    sf.write(d / "silence.wav", np.zeros(30 * sr, dtype=np.float32), sr)
    return d


def predict(*args, cwd):
    """`musicgenre predict` in this process, on one worker: the pool of several is tested in
    test_inference.py, the installed entry point below."""
    return invoke("predict", *args, "--workers", "1", cwd=cwd)


@pytest.mark.parametrize("name", ["quick cnn", pytest.param("crnn", marks=pytest.mark.slow)])
def test_predict_real_track_and_formats(request, audio_files, tmp_path, name):
    model = (request.getfixturevalue("quick_models") / "cnn" if name == "quick cnn"
             else request.getfixturevalue("trained")[0] / name)
    files = ["real.wav", "real.mp3", "real.flac", "stereo44k.wav"]
    proc = predict(*[audio_files / f for f in files], "--model", model, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4
    for line, name in zip(lines, files, strict=True):
        assert line.startswith(str(audio_files / name))
        shown = line.split(": ", 1)[1]
        if shown.startswith("unknown ("):  # under the model's threshold: genres in brackets
            shown = shown.removeprefix("unknown (").removesuffix(")")
        ranked = shown.split(", ")
        assert len(ranked) == 3
        probs = [float(r.rsplit(" ", 1)[1]) for r in ranked]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0001
    # One track in four encodings: the same genre probabilities, as close as the encodings
    # are to each other (FLAC is lossless; MP3 and the stereo 44.1 kHz copy are not).
    as_json = json.loads(predict(*[audio_files / f for f in files], "--model", model, "--json",
                                 "--top", "10", cwd=tmp_path).stdout)
    proba = {Path(r["path"]).name: {t["genre"]: t["probability"] for t in r["top"]}
             for r in as_json["results"]}
    genres = sorted(proba["real.wav"])
    vectors = {name: np.array([proba[name][g] for g in genres]) for name in files}
    assert len(genres) == 10 and vectors["real.wav"].sum() == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_array_equal(vectors["real.flac"], vectors["real.wav"])
    top_two = np.sort(vectors["real.wav"])[-2:]
    for other in ("real.mp3", "stereo44k.wav"):
        assert np.abs(vectors[other] - vectors["real.wav"]).max() < TOLERANCE, other
        if top_two[1] - top_two[0] > 2 * TOLERANCE:  # a clear winner stays the winner
            assert vectors[other].argmax() == vectors["real.wav"].argmax(), other


@pytest.mark.parametrize("name", ["quick baseline",
                                  pytest.param("transfer", marks=pytest.mark.slow)])
def test_predict_bad_inputs_one_line_each(request, audio_files, tmp_path, name):
    model = (request.getfixturevalue("quick_models") / "baseline" if name == "quick baseline"
             else request.getfixturevalue("trained")[0] / name)
    proc = predict(audio_files / "notes.txt", audio_files / "empty.wav",
                   audio_files / "short.wav", audio_files / "nan.wav",
                   audio_files / "silence.wav", audio_files / "real.wav", "--model", model,
                   cwd=tmp_path)
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 5, proc.stderr
    assert "notes.txt: not a readable audio file" in errors[0]
    assert "empty.wav: empty file" in errors[1]
    assert "short.wav: too short (0.50 s)" in errors[2]
    assert "nan.wav: 2 sample(s) are NaN or infinite" in errors[3]
    assert "silence.wav: silent or nearly (RMS -200.0 dBFS" in errors[4]
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip().startswith(str(audio_files / "real.wav"))  # still classified


def test_predict_a_folder(quick_models, audio_files, tmp_path):
    folder = tmp_path / "music" / "sub"
    folder.mkdir(parents=True)
    shutil.copy(audio_files / "real.flac", folder)
    (folder / "cover.jpg").write_bytes(b"\xff\xd8")  # not audio: skipped inside folders
    proc = predict(tmp_path / "music", "--model", quick_models / "baseline", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and "real.flac:" in proc.stdout


def test_the_installed_command_predicts_like_the_library(quick_models, audio_files, tmp_path):
    """The console script as a user starts it (its own process, a pool of two workers) gives
    exactly what the in-process command gives."""
    args = [audio_files / "real.wav", audio_files / "real.flac", "--model",
            quick_models / "baseline", "--json"]
    proc = run([CLI, "predict", *map(str, args), "--workers", "2"], tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(predict(*args, cwd=tmp_path).stdout)


def test_missing_model_is_one_clear_line(audio_files, tmp_path):
    """Through the installed script: a one-line error and exit code 1 as a shell sees them."""
    proc = run([CLI, "predict", str(audio_files / "real.wav"), "--model",
                str(tmp_path / "nowhere")], tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: no trained model here; run `dvc repro` first"]


def test_evaluate_on_a_labelled_folder(quick_models, real_genres_dir, tmp_path):
    data = tmp_path / "labelled"
    for genre in ("metal", "classical"):
        (data / genre).mkdir(parents=True)
        for f in sorted((real_genres_dir / genre).glob("*.wav"))[:2]:
            shutil.copy(f, data / genre / f.name)
    proc = invoke("evaluate", "--data", data, "--model", quick_models / "cnn", "--json",
                  "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["n_tracks"] == 4 and sum(map(sum, result["confusion_matrix"])) == 4
    # The same files through `predict`: evaluate's numbers are those predictions, scored.
    files = sorted(data.glob("*/*.wav"))
    predicted = json.loads(predict(*files, "--model", quick_models / "cnn", "--json",
                                   "--top", "1", cwd=tmp_path).stdout)["results"]
    right = [Path(r["path"]).parent.name == r["top"][0]["genre"] for r in predicted]
    assert result["accuracy"] == sum(right) / 4
    genres = list(result["per_genre"])
    cm = np.zeros((10, 10), dtype=int)
    for r in predicted:
        cm[genres.index(Path(r["path"]).parent.name), genres.index(r["top"][0]["genre"])] += 1
    assert result["confusion_matrix"] == cm.tolist()

    # files that are not <genre>/<audio file> are named, not silently ignored
    (data / "metal" / "notes.txt").write_text("liner notes")
    (data / "metal" / "live").mkdir()
    shutil.copy(real_genres_dir / "metal/metal.00001.wav", data / "metal/live/deep.wav")
    shutil.copy(real_genres_dir / "metal/metal.00001.wav", data / "loose.wav")
    proc = invoke("evaluate", "--data", data, "--model", quick_models / "cnn", "--json",
                  "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_tracks"] == 4
    assert proc.stderr.strip().splitlines() == [
        f"skipped: {data / 'loose.wav'}: outside a <genre>/ folder",
        f"skipped: {data / 'metal/live/deep.wav'}: in a folder below <genre>/",
        f"skipped: {data / 'metal/notes.txt'}: not an audio file name (.wav .au .flac .ogg .mp3)"]
    for extra in ("metal/notes.txt", "metal/live/deep.wav", "loose.wav"):
        (data / extra).unlink()

    (data / "metal" / "broken.wav").write_bytes(b"RIFF....garbage")
    proc = invoke("evaluate", "--data", data, "--model", quick_models / "cnn", "--workers", "1",
                  cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[0].startswith(f"error: {data / 'metal/broken.wav'}")
    assert "accuracy" in proc.stdout and "confusion matrix" in proc.stdout


def test_predict_formats_and_output_file(quick_models, audio_files, tmp_path):
    """--format table|json|jsonl|csv to stdout or -o FILE: the same results in each."""
    import csv
    import io

    args = [audio_files / "real.wav", audio_files / "notes.txt", "--model",
            quick_models / "baseline", "--top", "2"]
    as_json = json.loads(predict(*args, "--format", "json", cwd=tmp_path).stdout)
    results = as_json["results"]
    assert [("error" in r) for r in results] == [False, True]
    jsonl = predict(*args, "-f", "jsonl", cwd=tmp_path)
    assert jsonl.returncode == 1  # a file could not be used
    assert [json.loads(line) for line in jsonl.stdout.strip().splitlines()] == [
        {"model": as_json["model"], **r} for r in results]
    rows = list(csv.DictReader(io.StringIO(predict(*args, "-f", "csv", cwd=tmp_path).stdout)))
    assert list(rows[0]) == ["path", "genre", "genre_1", "probability_1", "genre_2",
                             "probability_2", "error"]
    assert rows[0]["genre_1"] == results[0]["top"][0]["genre"]
    assert float(rows[0]["probability_2"]) == results[0]["top"][1]["probability"]
    assert rows[1]["error"] == results[1]["error"] and rows[1]["genre_1"] == ""
    written = predict(*args, "--format", "json", "-o", tmp_path / "out.json", cwd=tmp_path)
    assert written.stdout == "" and json.loads((tmp_path / "out.json").read_text()) == as_json


def test_file_names_cannot_forge_output_lines(quick_models, audio_files, tmp_path):
    forged = tmp_path / "song.wav\nrock.00000.wav: metal 1.00"
    shutil.copy(audio_files / "real.wav", forged)
    proc = predict(forged, "--model", quick_models / "baseline", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(json.dumps(str(forged)) + ": ")


def test_a_missing_path_fails_before_any_model_loads(tmp_path):
    """The path is checked first: the (also missing) model is never reached, and torch is
    never imported."""
    code = ("import sys\nfrom musicgenre.cli import app\n"
            "try:\n    app(['predict', sys.argv[1], '--model', sys.argv[2]])\n"
            "except SystemExit as e:\n    print('exit', e.code, 'torch' in sys.modules)\n")
    proc = run([sys.executable, "-c", code, str(tmp_path / "nope.wav"), str(tmp_path / "none")],
               tmp_path, check=False)
    assert proc.stdout.strip() == "exit 1 False"
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.wav'}: no such file or directory"
    proc = invoke("evaluate", "--data", tmp_path / "gone", "--model", tmp_path / "none",
                  cwd=tmp_path)
    assert proc.returncode == 1 and "gone: no such file or directory" in proc.stderr


def test_version_module_entry_and_help_choices(tmp_path):
    from importlib.metadata import version

    proc = run([sys.executable, "-m", "musicgenre", "--version"], tmp_path)
    assert proc.stdout.strip() == f"musicgenre {version('musicgenre')}"
    import os
    import subprocess

    helped = subprocess.run([sys.executable, "-m", "musicgenre", "predict", "--help"],
                            cwd=tmp_path, env={**os.environ, "COLUMNS": "100"},
                            capture_output=True, text=True, check=True).stdout
    assert "table|json|jsonl|csv" in helped and "auto|cpu|cuda|mps" in helped
    # paragraphs reflow to the terminal's width instead of keeping the source's line breaks
    assert "A file that is unlike the model's music" in " ".join(helped.split())
    assert not any(line.rstrip().endswith("A file that is unlike the") for line in
                   helped.splitlines())
