"""Validation with a real Great Expectations suite on real GTZAN audio."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers.dvc_repo import run
from helpers.paths import ROOT
from musicgenre.core.errors import ValidationFailed
from musicgenre.data.config import ValidateConfig
from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.data.validate import validate_dataset


@pytest.fixture
def damaged_copy(real_genres_dir, tmp_path):
    """The 50 dev tracks, one replaced by non-audio bytes and one by a 0.5-s clip (under the
    1-s floor)."""
    genres = tmp_path / "genres"
    shutil.copytree(real_genres_dir, genres)
    (genres / "jazz/jazz.00001.wav").write_bytes(b"<html>404 not found</html>" * 100)
    audio, sr = sf.read(real_genres_dir / "rock/rock.00002.wav")
    sf.write(genres / "rock/rock.00002.wav", audio[: sr // 2], sr, subtype="PCM_16")
    return genres


def test_nan_and_inf_audio_is_dropped_with_its_reason(real_genres_dir, tmp_path):
    genres = tmp_path / "genres"
    shutil.copytree(real_genres_dir, genres)
    audio, sr = sf.read(real_genres_dir / "pop/pop.00001.wav", dtype="float32")
    audio[5::7] = np.nan
    audio[6] = -np.inf
    sf.write(genres / "pop/pop.00001.wav", audio, sr, subtype="FLOAT")
    summary = validate_dataset(genres, ValidateConfig(), GTZAN_GENRES, tmp_path / "m.csv",
                               tmp_path / "reports", progress=False)
    bad = {b["id"]: b["problems"] for b in summary["bad_files"]}
    assert list(bad) == ["pop.00001"]
    assert bad["pop.00001"][0].startswith("unreadable: ") and "NaN or infinite" in \
        bad["pop.00001"][0]
    assert summary["n_kept"] == 49


def test_real_dev_audio_passes_and_md5_matches_index(real_data, real_genres_dir, tmp_path):
    summary = validate_dataset(real_genres_dir, ValidateConfig(), GTZAN_GENRES,
                               tmp_path / "manifest.csv", tmp_path / "reports", progress=False)
    assert summary["success"] and summary["n_kept"] == 50 and summary["bad_files"] == []
    assert summary["tracks_per_genre"] == {g: 5 for g in GTZAN_GENRES}
    assert all(e["success"] for e in summary["expectations"])
    index = json.loads((real_data / "gtzan-ref/gtzan_track_md5_index.json").read_text())
    manifest = pd.read_csv(tmp_path / "manifest.csv")
    assert len(manifest) == 50
    for row in manifest.itertuples():
        assert row.md5 == index["tracks"][row.id]["audio"][1], row.id
    assert (manifest["sample_rate"] == 22050).all()
    assert manifest["duration_s"].between(29.9, 30.5).all()  # real GTZAN lengths vary a little
    html = (tmp_path / "reports/data_docs/index.html").read_text()
    assert "audio_files" in html
    assert list((tmp_path / "reports/data_docs/validations").rglob("*.html"))


def test_bad_files_named_and_dropped(damaged_copy, tmp_path):
    summary = validate_dataset(damaged_copy, ValidateConfig(policy="drop"), GTZAN_GENRES,
                               tmp_path / "manifest.csv", tmp_path / "reports", progress=False)
    bad = {b["id"]: " ".join(b["problems"]) for b in summary["bad_files"]}
    assert set(bad) == {"jazz.00001", "rock.00002"}
    assert "unreadable" in bad["jazz.00001"]
    assert "too short: 0.50 s" in bad["rock.00002"]
    assert summary["n_kept"] == 48 and summary["n_dropped"] == 2
    written = json.loads((tmp_path / "reports/summary.json").read_text())
    assert written["bad_files"] == summary["bad_files"]


def test_fail_policy_raises_naming_files(damaged_copy, tmp_path):
    with pytest.raises(ValidationFailed) as err:
        validate_dataset(damaged_copy, ValidateConfig(policy="fail"), GTZAN_GENRES,
                         tmp_path / "manifest.csv", tmp_path / "reports", progress=False)
    assert "jazz.00001.wav" in str(err.value) and "rock.00002.wav" in str(err.value)


@pytest.mark.parametrize(("policy", "code"), [("drop", 0), ("fail", 1)])
def test_validate_stage_exit_codes(damaged_copy, tmp_path, policy, code):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "stages", repo / "stages")
    params = (ROOT / "params.yaml").read_text().replace("policy: drop", f"policy: {policy}")
    (repo / "params.yaml").write_text(params)
    # genres: auto reads the class list the download stage recorded
    (repo / "source.json").write_text(json.dumps({"genres": GTZAN_GENRES}))
    proc = run(["python", "stages/validate.py", "--raw", str(damaged_copy), "--source",
                "source.json", "--manifest", "manifest.csv", "--reports", "reports"], repo,
               check=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout + proc.stderr
    assert "jazz.00001.wav" in out and "rock.00002.wav" in out
    if code:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("validate: error")]
        assert len(errors) == 1


def test_silence_and_duplicates_reported(synthetic_genres_dir, tmp_path):
    genres = tmp_path / "genres"
    shutil.copytree(synthetic_genres_dir, genres)
    sf.write(genres / "pop/pop.00001.wav", np.zeros(22050 * 6, dtype=np.float32), 22050)
    shutil.copyfile(genres / "rock/rock.00000.wav", genres / "metal/metal.00002.wav")
    summary = validate_dataset(genres, ValidateConfig(), GTZAN_GENRES, tmp_path / "m.csv",
                               tmp_path / "reports", progress=False)
    assert [b["id"] for b in summary["bad_files"]] == ["pop.00001"]
    assert "silent" in summary["bad_files"][0]["problems"][0]
    assert summary["duplicate_groups"] == [["metal.00002", "rock.00000"]]


def test_too_few_tracks_in_a_genre_fails(synthetic_genres_dir, tmp_path):
    genres = tmp_path / "genres"
    shutil.copytree(synthetic_genres_dir, genres)
    for wav in (genres / "disco").glob("*.wav"):
        wav.write_bytes(b"garbage")
    with pytest.raises(ValidationFailed, match="disco has 0"):
        validate_dataset(genres, ValidateConfig(), GTZAN_GENRES, tmp_path / "m.csv",
                         tmp_path / "reports", progress=False)


def test_scanning_on_two_processes_gives_the_same_manifest(damaged_copy):
    """validate.workers only changes where files are decoded (FMA's MP3s make it worth it)."""
    from musicgenre.data.validate import scan_folder

    one = scan_folder(damaged_copy, progress=False, workers=1)
    two = scan_folder(damaged_copy, progress=False, workers=2)
    pd.testing.assert_frame_equal(one, two)
    assert (~one["readable"]).sum() == 1 and len(one) == 50
