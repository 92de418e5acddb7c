"""The pretrained MusiCNN port: reading the packaged checkpoints, agreement with the original
TensorFlow network on real audio, and embeddings that line up with the feature segments."""

import json
import shutil
from importlib import resources
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from musicgenre.features.config import FeaturesConfig
from musicgenre.features.extract import segment_embeddings, segments_from_audio
from musicgenre.features.musicnn import embed_segments, load_musicnn, log_mel, patch_frames
from musicgenre.features.tfcheckpoint import CheckpointError, read_checkpoint

REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.json"


def _prefix(name: str) -> str:
    return str(resources.files("musicnn") / name) + "/"


def test_checkpoint_reader_gives_the_packaged_weights():
    weights = read_checkpoint(_prefix("MSD_musicnn"))
    assert weights["conv2d/kernel"].shape == (7, 38, 1, 204)  # timbral 7 x 0.4 * 96 bins
    assert weights["conv2d_2/kernel"].shape == (128, 1, 1, 51)  # temporal, 128 frames
    assert weights["conv2d_5/kernel"].shape == (7, 561, 1, 64)  # mid end over 561 maps
    assert weights["dense/kernel"].shape == (1506, 200)
    assert weights["dense_1/kernel"].shape == (200, 50)  # 50 tags
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in weights.values())
    variances = [v for k, v in weights.items() if k.endswith("moving_variance")]
    assert len(variances) == 11 and all((v > 0).all() for v in variances)


def test_checkpoint_errors_name_the_file(tmp_path):
    (tmp_path / "junk.index").write_bytes(b"not a table" * 10)
    with pytest.raises(CheckpointError, match=r"junk\.index: not a TensorFlow checkpoint"):
        read_checkpoint(tmp_path / "junk")
    with pytest.raises(CheckpointError, match=r"absent\.index: cannot read"):
        read_checkpoint(tmp_path / "absent")
    shutil.copy(_prefix("MSD_musicnn") + ".index", tmp_path / "nodata.index")
    with pytest.raises(CheckpointError, match=r"nodata\.data-00000-of-00001: cannot read"):
        read_checkpoint(tmp_path / "nodata")
    shutil.copy(_prefix("MSD_musicnn") + ".index", tmp_path / "short.index")
    data = Path(_prefix("MSD_musicnn") + ".data-00000-of-00001").read_bytes()
    (tmp_path / "short.data-00000-of-00001").write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="runs past the end of the file"):
        read_checkpoint(tmp_path / "short")


def _damaged_copy(tmp_path, name, index_flip=None, data_flip=None) -> Path:
    index = bytearray(Path(_prefix("MSD_musicnn") + ".index").read_bytes())
    data = bytearray(Path(_prefix("MSD_musicnn") + ".data-00000-of-00001").read_bytes())
    if index_flip is not None:
        index[index_flip] ^= 0x10
    if data_flip is not None:
        data[data_flip] ^= 0x01
    (tmp_path / f"{name}.index").write_bytes(bytes(index))
    (tmp_path / f"{name}.data-00000-of-00001").write_bytes(bytes(data))
    return tmp_path / name


def test_every_single_bit_flip_in_the_index_is_one_clear_error(tmp_path):
    """Flips anywhere in the index (entries, block trailers, footer) must never give raw
    IndexError/UnicodeDecodeError nor silently different weights."""
    size = len(Path(_prefix("MSD_musicnn") + ".index").read_bytes())
    reference = read_checkpoint(_prefix("MSD_musicnn"))
    for position in range(0, size, 7):
        prefix = _damaged_copy(tmp_path, "flip", index_flip=position)
        try:
            weights = read_checkpoint(prefix)
        except CheckpointError as exc:
            assert "flip." in str(exc), exc  # names the file
            continue
        # the flip hit bytes nothing reads (e.g. block padding): same weights or an error
        assert weights.keys() == reference.keys(), position
        assert all(np.array_equal(weights[k], reference[k]) for k in weights), position


def test_a_bit_flip_in_the_tensor_data_fails_its_crc(tmp_path):
    prefix = _damaged_copy(tmp_path, "rot", data_flip=123_456)
    with pytest.raises(CheckpointError, match=r"rot\.data-00000-of-00001: tensor .* fails its "
                                              r"CRC32C check"):
        read_checkpoint(prefix)


def test_a_checkpoint_of_another_network_is_refused(tmp_path, monkeypatch):
    from musicgenre.features import musicnn

    weights = read_checkpoint(_prefix("MSD_musicnn"))
    del weights["dense_1/kernel"]
    with pytest.raises(CheckpointError, match="not the musicnn network"):
        musicnn.network_from_weights(weights, "somewhere/MSD_musicnn")
    weights = read_checkpoint(_prefix("MSD_musicnn"))
    weights["conv2d_5/kernel"] = weights["conv2d_5/kernel"][:, :500]  # fewer input maps
    with pytest.raises(CheckpointError, match="somewhere/MSD_musicnn: not the musicnn network"):
        musicnn.network_from_weights(weights, "somewhere/MSD_musicnn")


@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn"])
def test_port_matches_the_tensorflow_network(real_genres_dir, name):
    """Same input, same outputs as musicnn's own graph (tests/data/musicnn_reference.py)."""
    reference = json.loads(REFERENCE.read_text())
    audio, _ = librosa.load(real_genres_dir / "metal" / reference["track"], sr=16000)
    spec = log_mel(audio)
    n = patch_frames(3.0)
    patches = torch.from_numpy(np.stack([spec[k * n:(k + 1) * n] for k in range(3)]))
    with torch.no_grad():
        logits, max_pool = load_musicnn(name)(patches)
    np.testing.assert_allclose(torch.sigmoid(logits).numpy(), reference[name]["tags"],
                               atol=2e-5)
    np.testing.assert_allclose(max_pool[0].numpy(), reference[name]["max_pool_patch0"],
                               rtol=1e-4, atol=2e-3)
    if name == "MSD_musicnn":  # and the weights mean something: a metal track sounds metal
        from musicnn.configuration import MSD_LABELS

        top = [MSD_LABELS[i] for i in np.argsort(-logits.mean(dim=0).numpy())[:4]]
        assert {"metal", "heavy metal"} & set(top), top


def test_segment_embeddings_line_up_with_the_feature_segments(real_genres_dir):
    from musicgenre.data.audio import load_audio

    cfg = FeaturesConfig(embedding="MSD_musicnn", embedding_layer="max_pool")
    audio, sr = load_audio(real_genres_dir / "jazz" / "jazz.00000.wav", cfg.sample_rate)
    audio = audio[:12 * sr]
    segments = segments_from_audio(audio, cfg)
    embeddings = segment_embeddings(audio, cfg)
    assert embeddings.shape == (len(segments), 753) and embeddings.dtype == np.float32
    # Row k is the embedding of segment k's own 3 s, whatever else is in the batch.
    k = 3
    start = k * cfg.segment_hop_frames * cfg.hop_length / cfg.sample_rate
    alone = embed_segments(audio, sr, [start], cfg.segment_s, cfg.embedding,
                           layer=cfg.embedding_layer)
    np.testing.assert_allclose(alone[0], embeddings[k], rtol=1e-5, atol=1e-4)
    assert not np.allclose(embeddings[0], embeddings[k])
    # A track shorter than a segment (padded by the features stage) still gets one row.
    short = np.pad(audio[: sr], (0, 3 * sr - sr))
    assert segment_embeddings(short, cfg).shape == (1, 753)
    assert segment_embeddings(short, FeaturesConfig(embedding="MSD_musicnn")).shape == (1, 50)


def test_layers_and_networks_concatenate_in_order(real_genres_dir):
    """The default transfer input: both musicnn taggrams side by side, probabilities in
    [0, 1], each network's block equal to that network alone."""
    from musicgenre.data.audio import load_audio

    both = FeaturesConfig(embedding="MSD_musicnn+MTT_musicnn", embedding_layer="taggram")
    audio, _ = load_audio(real_genres_dir / "metal" / "metal.00000.wav", both.sample_rate)
    audio = audio[:9 * both.sample_rate]
    tags = segment_embeddings(audio, both)
    assert tags.shape == (len(segments_from_audio(audio, both)), 100)
    assert ((tags >= 0) & (tags <= 1)).all()
    mtt = segment_embeddings(audio, FeaturesConfig(embedding="MTT_musicnn"))
    np.testing.assert_allclose(tags[:, 50:], mtt, atol=1e-6)
    hidden = segment_embeddings(audio, FeaturesConfig(embedding="MSD_musicnn",
                                                      embedding_layer="penultimate"))
    assert hidden.shape == (len(tags), 200)


@pytest.mark.parametrize("name", ["MSD_vgg", "MTT_vgg"])
def test_vgg_port_tags_real_music_sensibly(real_genres_dir, name):
    """No TensorFlow reference exists here for the VGG networks; their tags must agree with
    what the verified musicnn port of the same dataset hears: the same top tags on a metal
    and a classical track, and a strong rank correlation over all 50."""
    from scipy.stats import spearmanr

    from musicgenre.data.audio import load_audio

    for genre, track in (("metal", "metal.00000.wav"), ("classical", "classical.00000.wav")):
        audio, sr = load_audio(real_genres_dir / genre / track, 16000)
        starts = [0.0, 3.0, 6.0, 9.0]
        vgg = embed_segments(audio, sr, starts, 3.0, name, layer="taggram").mean(axis=0)
        reference = name.replace("vgg", "musicnn")
        cnn = embed_segments(audio, sr, starts, 3.0, reference, layer="taggram").mean(axis=0)
        assert spearmanr(vgg, cnn).statistic > 0.6, (genre, name)
        assert np.argmax(vgg) in np.argsort(-cnn)[:3], (genre, name)
    flat = embed_segments(audio, sr, starts, 3.0, name, layer="penultimate")
    assert flat.shape == (4, 256) and np.isfinite(flat).all()
