"""The features stage: every track of every split into the feature store (store.py).

For each track (and, for training tracks only, each augmented copy) `extract.py` computes
its segments' features, and with features.embedding set each segment's pretrained embedding
(same audio, same 3 s) for models that read embeddings. Tracks are processed in parallel with a
bounded window of work in flight, and segments are streamed to `.npy` files, so memory stays
flat however many tracks there are. Normalisation statistics are accumulated over training
rows only and stored with the features (applied at load time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.atomic import atomic_dir, write_json
from musicgenre.core.errors import AudioError, MusicGenreError
from musicgenre.core.parallel import OrderedPool
from musicgenre.core.versions import package_versions
from musicgenre.data.audio import load_audio
from musicgenre.data.tables import SPLITS
from musicgenre.features.augment import augment, build_augmenter, track_seed
from musicgenre.features.components import row_names
from musicgenre.features.config import AugmentConfig, FeaturesConfig
from musicgenre.features.extract import fit_length, segment_embeddings, segments_from_audio
from musicgenre.features.store import EMBEDDINGS_SUFFIX, NpyStreamWriter, RunningStats


def track_segments(path: Path, track_id: str, copies: int, cfg: FeaturesConfig,
                   aug_cfg: AugmentConfig | None, seed: int, augmenter=None) -> dict:
    """Features of one track and its augmented copies, plus what happened to it.

    Why seven parameters: one track's job (path, id, copies) and the per-worker constants
    (feature and augmentation params, seed, the worker's augmenter).
    """
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
               workers: int, address: str | None = None) -> OrderedPool:
    """The worker pool that runs `_work` over (path, track id, copies) jobs: `workers` local
    processes, or the workers of the Dask scheduler at `address`."""
    return OrderedPool(workers, _init_worker, (cfg, aug_cfg, seed), _WORKER.clear, address)


def extract_features(manifest: pd.DataFrame, split: pd.DataFrame, genres: list[str],
                     cfg: FeaturesConfig, aug_cfg: AugmentConfig, seed: int, out_dir: Path,
                     progress: bool = True, cluster_address: str | None = None) -> dict:
    """Write `<split>.npy` + `<split>.csv` per split and `meta.json` into `out_dir` (built
    under a temporary name, renamed when complete). With `cluster_address` the tracks are
    processed by that Dask cluster's workers, which must read the manifest's audio paths.

    Why nine parameters: the stage's tables (manifest, split, genres), its three params
    sections and seed, its output folder, and where the work runs (progress, cluster).
    """
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
        with track_pool(cfg, aug_cfg, seed, cfg.workers, cluster_address) as pool:
            run = _Extraction(pool, cfg, aug_cfg, label_of, stats, report, work, progress)
            for split_name in SPLITS:  # train first: its rows define the normalisation
                _extract_split(tracks[tracks["split"] == split_name], split_name, run)
        mean, std = stats.result()
        meta = {
            "features": asdict(cfg), "components": list(cfg.components),
            "row_names": row_names(cfg), "augment": asdict(aug_cfg), "seed": seed,
            "genres": list(genres), "segment_frames": cfg.segment_frames,
            "mean": mean.tolist(), "std": std.tolist(), **report,
            "versions": package_versions("librosa", "numpy", "audiomentations", "soundfile"),
        }
        write_json(work / "meta.json", meta, indent=1)
    return meta


@dataclass
class _Extraction:
    """What every split's extraction shares: the pool, the params, the running statistics
    and report it adds to, and where it writes."""

    pool: OrderedPool
    cfg: FeaturesConfig
    aug_cfg: AugmentConfig
    label_of: dict[str, int]
    stats: RunningStats  # training rows only
    report: dict
    out_dir: Path
    progress: bool


def _extract_split(part: pd.DataFrame, split_name: str, run: _Extraction) -> None:
    """Stream one split's segments to `<split>.npy` and its index to `<split>.csv`."""
    pool, cfg, aug_cfg, label_of = run.pool, run.cfg, run.aug_cfg, run.label_of
    stats, report, out_dir, progress = run.stats, run.report, run.out_dir, run.progress
    part = part.sort_values("id")
    copies = aug_cfg.copies if split_name == "train" else 0  # never augment val/test
    jobs = [(p, t, copies) for p, t in zip(part["path"], part["id"], strict=True)]
    writer = NpyStreamWriter(out_dir / f"{split_name}.npy",
                             (cfg.n_rows, cfg.segment_frames))
    embedding_writer = (NpyStreamWriter(out_dir / f"{split_name}{EMBEDDINGS_SUFFIX}",
                                        (cfg.embedding_dim,), np.float32)
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
