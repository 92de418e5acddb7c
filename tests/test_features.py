"""Feature extraction: one STFT, correct shapes, leak-free augmentation and normalisation."""

import json
from dataclasses import replace

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musicgenre.core.errors import MusicGenreError
from musicgenre.data.audio import load_audio
from musicgenre.data.config import SplitConfig
from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.data.split import make_split
from musicgenre.data.validate import scan_folder
from musicgenre.features.build import extract_features
from musicgenre.features.config import AugmentConfig, FeaturesConfig
from musicgenre.features.extract import frame_features, segment_starts, segments_from_audio
from musicgenre.features.store import load_split

QUICK_AUG = AugmentConfig(copies=1)


@pytest.fixture(scope="module")
def synthetic_tables(synthetic_genres_dir):
    manifest = scan_folder(synthetic_genres_dir, progress=False)
    manifest["keep"] = True
    split, _ = make_split(manifest, SplitConfig(train=0.34, val=0.33, test=0.33), seed=0)
    return manifest, split


@pytest.fixture(scope="module")
def real_track(real_genres_dir):
    audio, _ = load_audio(real_genres_dir / "disco/disco.00001.wav", 22050)
    return audio


@pytest.mark.parametrize(("feature_set", "rows"), [
    ("logmel", 128), ("mfcc", 20), ("chroma", 12), ("contrast", 7), ("seed_stack", 39),
    ("logmel+chroma", 140), ("logmel+mfcc+chroma+contrast", 167)])
def test_shapes_and_dtypes(real_track, feature_set, rows):
    cfg = FeaturesConfig(set=feature_set)
    segments = segments_from_audio(real_track, cfg)
    assert segments.dtype == np.float16
    n_frames = 1 + len(real_track) // 512
    assert segments.shape == (len(segment_starts(n_frames, cfg)), rows, 129)
    assert segments.shape[0] == 19  # 30.2 s in 3-s segments every 1.5 s
    assert np.isfinite(segments).all()


def test_one_stft_matches_separate_librosa_calls(real_track, monkeypatch):
    cfg = FeaturesConfig(set="logmel+mfcc+chroma+contrast")
    calls = []
    real_stft = librosa.stft

    def counting_stft(*args, **kwargs):
        calls.append(1)
        return real_stft(*args, **kwargs)

    monkeypatch.setattr(librosa, "stft", counting_stft)
    stacked = frame_features(real_track, cfg)
    assert len(calls) == 1, "every feature must come from the same STFT"
    monkeypatch.undo()

    y, sr = real_track, 22050
    separate = [
        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048,
                                                           hop_length=512, n_mels=128)),
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, n_fft=2048, hop_length=512, n_mels=128),
        librosa.feature.chroma_stft(y=y, sr=sr, n_fft=2048, hop_length=512, tuning=0.0),
        librosa.feature.spectral_contrast(y=y, sr=sr, n_fft=2048, hop_length=512),
    ]
    np.testing.assert_allclose(stacked, np.concatenate(separate), rtol=1e-4, atol=1e-3)


def test_stage_outputs_leak_free_and_deterministic(synthetic_tables, tmp_path):
    manifest, split = synthetic_tables
    cfg = FeaturesConfig(workers=1, embedding="MSD_musicnn", embed_augmented=True)
    one = extract_features(manifest, split, GTZAN_GENRES, cfg, QUICK_AUG, 3, tmp_path / "w1",
                           progress=False)
    two = extract_features(manifest, split, GTZAN_GENRES, replace(cfg, workers=2), QUICK_AUG, 3,
                           tmp_path / "w2", progress=False)
    for name in ("train", "val", "test"):
        x1, i1 = load_split(tmp_path / "w1", name)
        x2, i2 = load_split(tmp_path / "w2", name)
        assert np.array_equal(x1, x2) and i1.equals(i2), f"{name} differs across worker counts"
        e1, _ = load_split(tmp_path / "w1", name, embeddings=True)
        e2, _ = load_split(tmp_path / "w2", name, embeddings=True)
        assert e1.shape == (len(x1), 50) and np.array_equal(e1, e2)  # one row per segment
        # Segments belong to tracks of this split only, and only train is augmented.
        expected = set(split[split["split"] == name]["id"])
        assert set(i1["track_id"]) == expected
        assert (i1["copy"] > 0).any() == (name == "train")
        assert list(i1["row"]) == list(range(len(x1)))
        assert (i1["label"] == i1["genre"].map(GTZAN_GENRES.index)).all()
    assert one["mean"] == two["mean"] and one["std"] == two["std"]

    # Normalisation statistics come from the training rows alone.
    x_train, _ = load_split(tmp_path / "w1", "train")
    train = np.asarray(x_train, dtype=np.float64)
    np.testing.assert_allclose(one["mean"], train.mean(axis=(0, 2)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(one["std"], train.std(axis=(0, 2)), rtol=1e-5, atol=1e-6)
    x_all = np.concatenate([np.asarray(load_split(tmp_path / "w1", s)[0], dtype=np.float64)
                            for s in ("train", "val", "test")])
    assert not np.allclose(one["mean"], x_all.mean(axis=(0, 2)), atol=1e-3)

    # Augmented copies differ from their originals (the augmentation did something).
    _, index = load_split(tmp_path / "w1", "train")
    first = index["track_id"].iloc[0]
    rows = index[(index["track_id"] == first) & (index["segment"] == 0)]["row"].tolist()
    assert len(rows) == 2 and not np.array_equal(x_train[rows[0]], x_train[rows[1]])
    e_train, _ = load_split(tmp_path / "w1", "train", embeddings=True)
    assert not np.array_equal(e_train[rows[0]], e_train[rows[1]])  # embedded after augmenting
    saved = json.loads((tmp_path / "w1/meta.json").read_text())
    assert saved["seed"] == 3 and saved["versions"]["librosa"] == librosa.__version__

    # By default only the originals are embedded: the rows of copy 0, in the index's order.
    extract_features(manifest, split, GTZAN_GENRES, replace(cfg, embed_augmented=False),
                     QUICK_AUG, 3, tmp_path / "originals", progress=False)
    e_orig, i_orig = load_split(tmp_path / "originals", "train", embeddings=True)
    assert (i_orig["copy"] == 0).all() and len(i_orig) == (index["copy"] == 0).sum()
    assert list(i_orig["row"]) == list(range(len(e_orig)))  # rows of the embeddings file
    np.testing.assert_array_equal(e_orig, e_train[index[index["copy"] == 0]["row"].to_numpy()])


def test_changing_the_seed_changes_only_augmented_rows(synthetic_tables, tmp_path):
    manifest, split = synthetic_tables
    cfg = FeaturesConfig(workers=1)
    extract_features(manifest, split, GTZAN_GENRES, cfg, QUICK_AUG, 1, tmp_path / "a",
                     progress=False)
    extract_features(manifest, split, GTZAN_GENRES, cfg, QUICK_AUG, 2, tmp_path / "b",
                     progress=False)
    xa, index = load_split(tmp_path / "a", "train")
    xb, _ = load_split(tmp_path / "b", "train")
    original = (index["copy"] == 0).to_numpy()
    assert np.array_equal(xa[original], xb[original])
    assert not np.array_equal(xa[~original], xb[~original])


@pytest.mark.parametrize(("policy", "expect_rows"), [("tile", 1), ("pad", 1), ("drop", 0)])
def test_short_track_policy(synthetic_tables, tmp_path, policy, expect_rows):
    manifest, split = synthetic_tables
    short_id = split[split["split"] == "val"]["id"].iloc[0]
    manifest = manifest.copy()
    audio, sr = sf.read(manifest.loc[manifest["id"] == short_id, "path"].iloc[0])
    clip = tmp_path / f"{short_id}.wav"
    sf.write(clip, audio[: sr // 2], sr)  # 0.5 s, shorter than one 3-s segment
    manifest.loc[manifest["id"] == short_id, "path"] = str(clip)
    meta = extract_features(manifest, split, GTZAN_GENRES,
                            FeaturesConfig(short_track=policy, workers=1),
                            AugmentConfig(copies=0), 0, tmp_path / "f", progress=False)
    _, index = load_split(tmp_path / "f", "val")
    assert (index["track_id"] == short_id).sum() == expect_rows
    key = "dropped_short" if policy == "drop" else "padded_short"
    assert meta[key] == [short_id]
    with pytest.raises(MusicGenreError, match=r"val\.embeddings\.npy: no segment embeddings; "
                                              r"set features\.embedding"):
        load_split(tmp_path / "f", "val", embeddings=True)


def test_unreadable_track_is_reported_not_fatal(synthetic_tables, tmp_path):
    manifest, split = synthetic_tables
    victim = split[split["split"] == "test"]["id"].iloc[0]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage")
    manifest = manifest.copy()
    manifest.loc[manifest["id"] == victim, "path"] = str(bad)
    meta = extract_features(manifest, split, GTZAN_GENRES, FeaturesConfig(workers=1),
                            AugmentConfig(copies=0), 0, tmp_path / "f", progress=False)
    assert [u["id"] for u in meta["unreadable"]] == [victim]
    assert "bad.wav" in meta["unreadable"][0]["error"]


def test_real_dev_audio_goes_through(real_genres_dir, tmp_path):
    manifest = scan_folder(real_genres_dir, progress=False)
    manifest = manifest[manifest["id"].str.endswith(("00000", "00001"))].reset_index(drop=True)
    split = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                          "split": np.where(manifest["id"].str.endswith("0"), "train", "val")})
    meta = extract_features(manifest, split, GTZAN_GENRES,
                            FeaturesConfig(set="seed_stack", workers=2), QUICK_AUG, 0,
                            tmp_path / "f", progress=False)
    assert meta["splits"]["train"]["tracks"] == 10 and meta["splits"]["val"]["tracks"] == 10
    train = meta["splits"]["train"]
    assert train["segments"] == 2 * train["augmented_segments"]  # one copy per track
    assert meta["unreadable"] == [] and meta["padded_short"] == []


@pytest.mark.parametrize(("sr", "n_fft"), [(22050, 2048), (16000, 1024), (44100, 4096)])
def test_fast_spectral_contrast_equals_librosa(real_track, sr, n_fft):
    from musicgenre.features.extract import spectral_contrast

    magnitude = np.abs(librosa.stft(real_track[: sr * 5], n_fft=n_fft, hop_length=n_fft // 4))
    expected = librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_fft=n_fft)
    np.testing.assert_allclose(spectral_contrast(magnitude, sr, n_fft), expected, rtol=1e-5,
                               atol=1e-4)


def test_embeddings_of_originals_only_are_indexed_by_their_own_rows(tmp_path):
    """features.embed_augmented false: the embeddings file holds the originals' rows only,
    and the index load_split gives must point into it (a track summary reads x[row])."""
    import pandas as pd

    from musicgenre.features.store import load_split

    index = pd.DataFrame({"row": range(6), "track_id": ["a", "a", "a", "a", "b", "b"],
                          "genre": "rock", "label": 0, "copy": [0, 0, 1, 1, 0, 0]})
    index.to_csv(tmp_path / "train.csv", index=False)
    np.save(tmp_path / "train.npy", np.zeros((6, 2, 4), np.float16))
    np.save(tmp_path / "train.embeddings.npy", np.arange(8, dtype=np.float32).reshape(4, 2))
    x, idx = load_split(tmp_path, "train", embeddings=True)
    assert list(idx["row"]) == [0, 1, 2, 3] and list(idx["track_id"]) == ["a", "a", "b", "b"]
    assert np.array_equal(x[idx["row"].to_numpy()], x)
