"""Robustness table: every condition scored, seeded, the same with any number of workers."""

import json

import numpy as np
import pandas as pd
import pytest

from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.evaluation.config import RobustnessConfig
from musicgenre.evaluation.robustness import perturbations, robustness_table, run_robustness


def _only(**conditions) -> RobustnessConfig:
    """A config with just these conditions."""
    empty = {"snr_db": [], "pitch_semitones": [], "tempo_percent": [], "mp3_kbps": [],
             "reverb_room": [], "telephone": False, "resample_hz": [], "gain_db": []}
    return RobustnessConfig(**{**empty, **conditions})


@pytest.fixture(scope="module")
def test_tracks(quick_split):
    manifest, split, _ = quick_split
    tracks = split[split["split"] == "test"].merge(manifest[["id", "path"]], on="id")
    assert len(tracks) >= 5  # enough to score
    return tracks


def test_clean_condition_scores_like_predict(quick_models, test_tracks):
    from musicgenre.inference.checkpoint import load_classifier
    from musicgenre.inference.predict import classify_file

    table = robustness_table(quick_models / "cnn", GTZAN_GENRES, test_tracks,
                             _only(snr_db=[10.0], pitch_semitones=[2.0]), seed=7, workers=1,
                             progress=False)
    assert list(table["condition"]) == ["clean", "noise 10 dB SNR", "pitch +2 st"]
    assert (table["n_tracks"] == len(test_tracks)).all()
    classifier = load_classifier(quick_models / "cnn")
    predicted = [GTZAN_GENRES[int(np.argmax(classify_file(classifier, p).proba))]
                 for p in test_tracks["path"]]
    clean = table.set_index("condition").loc["clean", "accuracy"]
    assert clean == pytest.approx(np.mean(np.array(predicted) == test_tracks["genre"].to_numpy()))
    first = table.iloc[0]  # clean against itself: nothing discordant
    assert (first["only_clean_right"], first["only_condition_right"], first["mcnemar_p"]) == (
        0, 0, 1.0)


def test_seeded_and_independent_of_workers(quick_models, test_tracks):
    args = (quick_models / "baseline", GTZAN_GENRES, test_tracks,
            _only(snr_db=[0.0], pitch_semitones=[-2.0], mp3_kbps=[64]), 7)
    one = robustness_table(*args, workers=1, progress=False)
    two = robustness_table(*args, workers=2, progress=False)
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, robustness_table(*args, workers=1, progress=False))


def test_stage_function_writes_the_table(quick_models, quick_split, tmp_path):
    manifest, split, _ = quick_split
    table = run_robustness(quick_models / "cnn", manifest, split, _only(snr_db=[20.0]), 7,
                           tmp_path / "robustness.json")
    saved = json.loads((tmp_path / "robustness.json").read_text())
    assert saved["model"] == "cnn"
    assert saved["conditions"] == table.to_dict("records")


def test_real_audio_with_the_transfer_model(trained, real_genres_dir):
    tracks = pd.DataFrame([{"id": f"{g}.00002", "genre": g,
                            "path": str(real_genres_dir / g / f"{g}.00002.wav")}
                           for g in ("metal", "classical", "reggae")])
    args = (trained[0] / "transfer", GTZAN_GENRES, tracks,
            _only(snr_db=[20.0], pitch_semitones=[2.0]), 7)
    one = robustness_table(*args, workers=1, progress=False)
    two = robustness_table(*args, workers=2, progress=False)
    assert list(one["condition"]) == ["clean", "noise 20 dB SNR", "pitch +2 st"]
    pd.testing.assert_frame_equal(one, two)


def test_every_condition_changes_the_audio_as_named(real_genres_dir):
    """Each default condition on a real track: the length it should have, finite samples,
    and the change it names (measured, not assumed)."""
    import soundfile as sf

    audio, sr = sf.read(real_genres_dir / "rock" / "rock.00000.wav", dtype="float32")
    audio = audio[: 6 * sr]
    spectrum = lambda x: np.abs(np.fft.rfft(x))  # noqa: E731
    freqs = np.fft.rfftfreq(len(audio), 1 / sr)
    for name, transform in perturbations(RobustnessConfig()).items():
        if transform is None:
            continue
        out = transform(audio.copy(), sr)
        assert np.isfinite(out).all(), name
        if name.startswith("tempo"):
            rate = 1 + float(name.split()[1].rstrip("%")) / 100
            assert len(out) == pytest.approx(len(audio) / rate, rel=0.01), name
            continue
        assert len(out) == pytest.approx(len(audio), abs=sr // 10), name
        out = out[: len(audio)]
        if name.startswith("gain"):
            assert np.sqrt(np.mean(out ** 2) / np.mean(audio ** 2)) == pytest.approx(0.1)
        elif name.startswith("telephone"):
            band = (freqs > 300) & (freqs < 3400)
            kept = spectrum(out)[~band & (freqs > 5000)].sum() / spectrum(audio)[
                ~band & (freqs > 5000)].sum()
            assert kept < 0.05, name
        elif name.startswith("resampled"):
            assert spectrum(out)[freqs > 4200].sum() < 0.02 * spectrum(audio)[freqs > 4200].sum()
        else:  # noise, pitch, MP3, reverb: a real change, same loudness range
            assert not np.allclose(out, audio, atol=1e-3), name
            ratio = np.sqrt(np.mean(out ** 2) / np.mean(audio ** 2))
            assert 0.3 < ratio < 3, (name, ratio)
