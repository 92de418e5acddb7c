"""Features of one signal: one STFT feeds log-mel, MFCC (from that log-mel), chroma and
spectral contrast, stacked as rows, then cut into fixed-length overlapping segments.

The features stage and predict (on new audio) both go through these functions.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np

from musicgenre.features.config import FeaturesConfig

FEATURE_DTYPE = np.float16  # halves disk and memory; log-scaled features lose nothing useful


@lru_cache(maxsize=8)
def _mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


@lru_cache(maxsize=8)
def _contrast_bands(sr: int, n_fft: int, n_bands: int = 6, fmin: float = 200.0,
                    quantile: float = 0.02) -> list[tuple[slice, int]]:
    """Octave bands of librosa's spectral_contrast as (bin slice, quantile count)."""
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    edges = np.zeros(n_bands + 2)
    edges[1:] = fmin * 2.0 ** np.arange(n_bands + 1)
    bands = []
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        idx = np.flatnonzero((freq >= low) & (freq <= high))
        first = idx[0] - 1 if k > 0 else idx[0]
        last = len(freq) if k == n_bands else idx[-1] + 1
        count = last - first  # bins in the band as librosa counts them
        stop = last if k == n_bands else last - 1  # librosa drops a band's top bin but the last
        bands.append((slice(first, stop), max(int(np.rint(quantile * count)), 1)))
    return bands


def spectral_contrast(magnitude: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """librosa.feature.spectral_contrast with the same bands and output, but faster.

    librosa rebuilds its band masks and copies each band by boolean indexing on every call;
    here the bands are precomputed slices, so only the per-band sort remains.
    """
    bands = _contrast_bands(sr, n_fft)
    peak = np.empty((len(bands), magnitude.shape[1]))
    valley = np.empty_like(peak)
    for k, (rows, q) in enumerate(bands):
        ordered = np.sort(magnitude[rows], axis=0)
        valley[k] = ordered[:q].mean(axis=0)
        peak[k] = ordered[-q:].mean(axis=0)
    return librosa.power_to_db(peak) - librosa.power_to_db(valley)


def frame_features(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """All features of `cfg.set` stacked as rows, [n_rows, n_frames], from one STFT."""
    sr, n_fft = cfg.sample_rate, cfg.n_fft
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=cfg.hop_length))
    power = magnitude**2
    rows = []
    log_mel = None
    for component in cfg.components:
        if component in ("logmel", "mfcc") and log_mel is None:
            log_mel = librosa.power_to_db(_mel_filters(sr, n_fft, cfg.n_mels) @ power)
        if component == "logmel":
            rows.append(log_mel)
        elif component == "mfcc":
            rows.append(librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc))
        elif component == "chroma":
            rows.append(librosa.feature.chroma_stft(S=power, sr=sr, n_fft=n_fft,
                                                    tuning=cfg.chroma_tuning))
        elif component == "contrast":
            rows.append(spectral_contrast(magnitude, sr, n_fft))
    return np.concatenate(rows, axis=0).astype(np.float32)


def segment_starts(n_frames: int, cfg: FeaturesConfig) -> list[int]:
    if n_frames < cfg.segment_frames:
        return []
    return list(range(0, n_frames - cfg.segment_frames + 1, cfg.segment_hop_frames))


def min_samples(cfg: FeaturesConfig) -> int:
    """Fewest samples that give one full segment (librosa centres frames)."""
    return (cfg.segment_frames - 1) * cfg.hop_length


def set_level(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """The audio at features.level_dbfs RMS (unchanged when that is null, or the audio is
    silent): a quieter recording of the same music then gives the same features."""
    if cfg.level_dbfs is None or len(audio) == 0:
        return audio
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms < 1e-6:
        return audio
    return (audio * (10 ** (cfg.level_dbfs / 20) / rms)).astype(np.float32)


def segments_from_audio(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """[n_segments, n_rows, segment_frames]; empty when the audio is shorter than a segment."""
    frames = frame_features(set_level(audio, cfg), cfg)
    starts = segment_starts(frames.shape[1], cfg)
    out = np.empty((len(starts), frames.shape[0], cfg.segment_frames), dtype=FEATURE_DTYPE)
    for i, start in enumerate(starts):
        out[i] = frames[:, start:start + cfg.segment_frames]
    return out


def segment_embeddings(audio: np.ndarray, cfg: FeaturesConfig,
                       device: str = "cpu") -> np.ndarray:
    """[n_segments, dim] pretrained embeddings of the same audio spans as segments_from_audio."""
    from musicgenre.features.musicnn import embed_segments  # imports torch: only when asked

    n_frames = 1 + len(audio) // cfg.hop_length  # librosa's centred frames
    starts_s = [s * cfg.hop_length / cfg.sample_rate for s in segment_starts(n_frames, cfg)]
    return embed_segments(set_level(audio, cfg), cfg.sample_rate, starts_s, cfg.segment_s,
                          cfg.embedding, device, cfg.embedding_layer)


def fill_segment(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """Audio shorter than one segment made one segment long: repeated end to end (tile; the
    musicnn networks were trained on clips repeated this way) or followed by silence (pad).
    The model then sees the clip's own sound throughout, not mostly silence."""
    need = min_samples(cfg)
    if len(audio) >= need or len(audio) == 0:
        return audio
    if cfg.short_track == "pad":
        return np.pad(audio, (0, need - len(audio)))
    return np.resize(audio, need)  # tile (also what predict does under short_track=drop)


def fit_length(audio: np.ndarray, cfg: FeaturesConfig) -> tuple[np.ndarray, bool]:
    """Apply the short-track policy; returns (audio or empty, whether it was filled)."""
    if len(audio) >= min_samples(cfg):
        return audio, False
    if cfg.short_track == "drop":
        return audio[:0], False
    return fill_segment(audio, cfg), True
