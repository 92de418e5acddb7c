"""The features stage: segment-level feature matrices from one STFT per signal.

For each track (and, for training tracks only, each augmented copy) one STFT feeds every
feature of the chosen set: log-mel, MFCC (from that log-mel), chroma and spectral contrast.
The frame matrix is cut into fixed-length, overlapping segments. Tracks are processed in
parallel with a bounded window of work in flight, and segments are streamed to `.npy` files
on disk, so memory stays flat however many tracks there are. Normalisation statistics are
accumulated over training rows only and stored with the features (applied at load time).
With `embedding` set, each segment's pretrained embedding (same audio, same 3 s) is stored
too, row-aligned with the features, in `<split>.embeddings.npy` (for the transfer model).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np
import pandas as pd

from musicgenre.atomic import atomic_dir
from musicgenre.audio import load_audio
from musicgenre.augment import augment, build_augmenter, track_seed
from musicgenre.config import EMBEDDING_DIM, AugmentConfig, FeaturesConfig
from musicgenre.errors import AudioError, MusicGenreError
from musicgenre.parallel import OrderedPool
from musicgenre.split import SPLITS

FEATURE_DTYPE = np.float16  # halves disk and memory; log-scaled features lose nothing useful
EMBEDDINGS_SUFFIX = ".embeddings.npy"


# --------------------------------------------------------------------------- extraction
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


def row_names(cfg: FeaturesConfig) -> list[str]:
    sizes = {"logmel": cfg.n_mels, "mfcc": cfg.n_mfcc, "chroma": 12, "contrast": 7}
    return [f"{c}_{i}" for c in cfg.components for i in range(sizes[c])]


def segment_starts(n_frames: int, cfg: FeaturesConfig) -> list[int]:
    if n_frames < cfg.segment_frames:
        return []
    return list(range(0, n_frames - cfg.segment_frames + 1, cfg.segment_hop_frames))


def min_samples(cfg: FeaturesConfig) -> int:
    """Fewest samples that give one full segment (librosa centres frames)."""
    return (cfg.segment_frames - 1) * cfg.hop_length


def segments_from_audio(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """[n_segments, n_rows, segment_frames]; empty when the audio is shorter than a segment."""
    frames = frame_features(audio, cfg)
    starts = segment_starts(frames.shape[1], cfg)
    out = np.empty((len(starts), frames.shape[0], cfg.segment_frames), dtype=FEATURE_DTYPE)
    for i, start in enumerate(starts):
        out[i] = frames[:, start:start + cfg.segment_frames]
    return out


def segment_embeddings(audio: np.ndarray, cfg: FeaturesConfig,
                       device: str = "cpu") -> np.ndarray:
    """[n_segments, dim] pretrained embeddings of the same audio spans as segments_from_audio."""
    from musicgenre.embeddings import embed_segments  # imports torch: only when asked for

    n_frames = 1 + len(audio) // cfg.hop_length  # librosa's centred frames
    starts_s = [s * cfg.hop_length / cfg.sample_rate for s in segment_starts(n_frames, cfg)]
    return embed_segments(audio, cfg.sample_rate, starts_s, cfg.segment_s, cfg.embedding,
                          device)


def fit_length(audio: np.ndarray, cfg: FeaturesConfig) -> tuple[np.ndarray, bool]:
    """Apply the short-track policy; returns (audio or empty, whether it was padded)."""
    need = min_samples(cfg)
    if len(audio) >= need:
        return audio, False
    if cfg.short_track == "drop":
        return audio[:0], False
    return np.pad(audio, (0, need - len(audio))), True


def track_segments(path: Path, track_id: str, copies: int, cfg: FeaturesConfig,
                   aug_cfg: AugmentConfig | None, seed: int, augmenter=None) -> dict:
    """Features of one track and its augmented copies, plus what happened to it."""
    try:
        audio, _ = load_audio(path, cfg.sample_rate)
    except AudioError as exc:
        return {"id": track_id, "error": str(exc), "copies": []}
    audio, padded = fit_length(audio, cfg)
    if len(audio) == 0:
        return {"id": track_id, "error": None, "dropped": True, "copies": []}
    versions = [audio]
    if copies:
        augmenter = augmenter or build_augmenter(aug_cfg)
        versions += [augment(augmenter, audio, cfg.sample_rate, track_seed(seed, track_id, k))
                     for k in range(1, copies + 1)]
    n_embedded = len(versions) if cfg.embed_augmented else 1
    return {"id": track_id, "error": None, "dropped": False, "padded": padded,
            "copies": [segments_from_audio(v, cfg) for v in versions],
            "embeddings": [segment_embeddings(v, cfg) for v in versions[:n_embedded]]
            if cfg.embedding else None}


# Per-process state for the pool (the augmenter is built once per worker, not per track).
_WORKER: dict = {}


def _init_worker(cfg: FeaturesConfig, aug_cfg: AugmentConfig, seed: int) -> None:
    if cfg.embedding:
        import torch  # noqa: F401  (imported first, so the pool limits its threads too)
    _WORKER.update(cfg=cfg, aug_cfg=aug_cfg, seed=seed,
                   augmenter=build_augmenter(aug_cfg) if aug_cfg.copies else None)


def _work(job: tuple[str, str, int]) -> dict:
    path, track_id, copies = job
    w = _WORKER
    return track_segments(Path(path), track_id, copies, w["cfg"], w["aug_cfg"], w["seed"],
                          w["augmenter"])


def track_pool(cfg: FeaturesConfig, aug_cfg: AugmentConfig, seed: int,
               workers: int) -> OrderedPool:
    """The worker pool that runs `_work` over (path, track id, copies) jobs."""
    return OrderedPool(workers, _init_worker, (cfg, aug_cfg, seed), _WORKER.clear)


# --------------------------------------------------------------------------- storage
class NpyStreamWriter:
    """Append equally shaped rows to a `.npy` file without holding them in memory.

    A fixed 128-byte header is reserved and rewritten with the final row count on close (the
    .npy format allows any space padding), so the file is a plain array `np.load` can memory-map.
    """

    HEADER = 128

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype=FEATURE_DTYPE) -> None:
        self.path, self.row_shape, self.dtype = Path(path), tuple(row_shape), np.dtype(dtype)
        self.rows = 0
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.fh = open(self.tmp, "wb")
        self.fh.write(b"\0" * self.HEADER)

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        assert block.shape[1:] == self.row_shape, (block.shape, self.row_shape)
        self.fh.write(block.tobytes())
        self.rows += len(block)

    def close(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.rows, *self.row_shape)}
        text = repr(header).encode("latin1")
        prefix = b"\x93NUMPY\x01\x00"
        pad = self.HEADER - len(prefix) - 2 - len(text) - 1
        self.fh.seek(0)
        self.fh.write(prefix + (self.HEADER - len(prefix) - 2).to_bytes(2, "little") + text
                      + b" " * pad + b"\n")
        self.fh.close()
        os.replace(self.tmp, self.path)


class RunningStats:
    """Per-row mean and std over all frames of all rows seen (float64 sums)."""

    def __init__(self, n_rows: int) -> None:
        self.count = 0
        self.total = np.zeros(n_rows)
        self.total_sq = np.zeros(n_rows)

    def add(self, block: np.ndarray) -> None:
        x = block.astype(np.float64)
        self.count += x.shape[0] * x.shape[2]
        self.total += x.sum(axis=(0, 2))
        self.total_sq += np.square(x).sum(axis=(0, 2))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.count == 0:
            raise MusicGenreError("features: no training segments; cannot fit normalisation")
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.total_sq / self.count - mean**2, 0.0))
        return mean, np.maximum(std, 1e-6)


# --------------------------------------------------------------------------- the stage
def extract_features(manifest: pd.DataFrame, split: pd.DataFrame, genres: list[str],
                     cfg: FeaturesConfig, aug_cfg: AugmentConfig, seed: int, out_dir: Path,
                     progress: bool = True) -> dict:
    """Write `<split>.npy` + `<split>.csv` per split and `meta.json` into `out_dir` (built
    under a temporary name, renamed when complete)."""
    tracks = split.merge(manifest[["id", "path"]], on="id", how="left", validate="one_to_one")
    missing = tracks[tracks["path"].isna()]["id"].tolist()
    if missing:
        raise MusicGenreError(f"split lists tracks absent from the manifest: {missing[:5]}")
    label_of = {g: i for i, g in enumerate(genres)}
    unknown = sorted(set(tracks["genre"]) - set(label_of))
    if unknown:
        raise MusicGenreError(f"genres {unknown} are in the split but not in params genres")
    stats = RunningStats(cfg.n_rows)
    report: dict = {"splits": {}, "dropped_short": [], "padded_short": [], "unreadable": []}
    with atomic_dir(out_dir) as work:
        with track_pool(cfg, aug_cfg, seed, cfg.workers) as pool:
            for split_name in SPLITS:  # train first: its rows define the normalisation
                _extract_split(tracks[tracks["split"] == split_name], split_name, pool, cfg,
                               aug_cfg, label_of, stats, report, work, progress)
        mean, std = stats.result()
        meta = {
            "features": asdict(cfg), "components": list(cfg.components),
            "row_names": row_names(cfg), "augment": asdict(aug_cfg), "seed": seed,
            "genres": list(genres), "segment_frames": cfg.segment_frames,
            "mean": mean.tolist(), "std": std.tolist(), **report,
            "versions": _versions(),
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def _extract_split(part: pd.DataFrame, split_name: str, pool: OrderedPool,
                   cfg: FeaturesConfig, aug_cfg: AugmentConfig, label_of: dict[str, int],
                   stats: RunningStats, report: dict, out_dir: Path, progress: bool) -> None:
    """Stream one split's segments to `<split>.npy` and its index to `<split>.csv`."""
    part = part.sort_values("id")
    copies = aug_cfg.copies if split_name == "train" else 0  # never augment val/test
    jobs = [(p, t, copies) for p, t in zip(part["path"], part["id"], strict=True)]
    writer = NpyStreamWriter(out_dir / f"{split_name}.npy",
                             (cfg.n_rows, cfg.segment_frames))
    embedding_writer = (NpyStreamWriter(out_dir / f"{split_name}{EMBEDDINGS_SUFFIX}",
                                        (EMBEDDING_DIM,), np.float32)
                        if cfg.embedding else None)
    index_rows = []
    genre_of = dict(zip(part["id"], part["genre"], strict=True))
    for result in pool.map(_work, jobs, desc=split_name, progress=progress):
        tid = result["id"]
        if result["error"]:
            report["unreadable"].append({"id": tid, "error": result["error"]})
            continue
        if result["dropped"]:
            report["dropped_short"].append(tid)
            continue
        if result["padded"]:
            report["padded_short"].append(tid)
        for copy, block in enumerate(result["copies"]):
            index_rows += [{"row": writer.rows + s, "track_id": tid, "genre": genre_of[tid],
                            "label": label_of[genre_of[tid]], "segment": s, "copy": copy}
                           for s in range(len(block))]
            writer.append(block)
            if embedding_writer and copy < len(result["embeddings"]):
                embedding_writer.append(result["embeddings"][copy])
            if split_name == "train":
                stats.add(block)
    writer.close()
    if embedding_writer:
        embedding_writer.close()
    index = pd.DataFrame(index_rows, columns=["row", "track_id", "genre", "label",
                                              "segment", "copy"])
    index.to_csv(out_dir / f"{split_name}.csv", index=False)
    report["splits"][split_name] = {
        "tracks": int(index["track_id"].nunique()), "segments": int(len(index)),
        "augmented_segments": int((index["copy"] > 0).sum())}


def _versions() -> dict:
    import audiomentations
    import soundfile

    return {"librosa": librosa.__version__, "numpy": np.__version__,
            "audiomentations": audiomentations.__version__, "soundfile": soundfile.__version__}


def load_meta(features_dir: Path) -> dict:
    path = Path(features_dir) / "meta.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MusicGenreError(f"{path}: not found; run the features stage first") from None


def load_split(features_dir: Path, split: str, embeddings: bool = False
               ) -> tuple[np.ndarray, pd.DataFrame]:
    """Memory-mapped features (or, with `embeddings`, the segments' pretrained embeddings) and
    their index for one split (not normalised)."""
    features_dir = Path(features_dir)
    path = features_dir / f"{split}{EMBEDDINGS_SUFFIX if embeddings else '.npy'}"
    if embeddings and not path.exists():
        raise MusicGenreError(f"{path}: no segment embeddings; set features.embedding (e.g. "
                              "MSD_musicnn) so that the features stage computes them")
    x = np.load(path, mmap_mode="r")
    index = pd.read_csv(features_dir / f"{split}.csv")
    if embeddings and len(index) != len(x):
        # Augmented copies were not embedded (features.embed_augmented false): the rows are
        # the originals' segments, in the index's order.
        index = index[index["copy"] == 0].reset_index(drop=True)
        if len(index) != len(x):
            raise MusicGenreError(f"{path}: {len(x)} embeddings for {len(index)} segments; "
                                  "rerun the features stage")
    return x, index


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise [..., n_rows, frames] with training-split statistics, as float32."""
    mean = np.asarray(mean, dtype=np.float32)[:, None]
    std = np.asarray(std, dtype=np.float32)[:, None]
    return (np.asarray(x, dtype=np.float32) - mean) / std
