"""What fma_small costs on this machine, from a measured subset.

No FMA audio can be downloaded here, so the subset is FMA-shaped: the real GTZAN dev tracks
(30 s) re-encoded as FMA's clips are (MP3, 44.1 kHz, stereo), packed with a `tracks.csv` in
FMA's layout into bzip2 zips like the published ones and served from 127.0.0.1. The data
stages run on it with the default params (log-mel, 2 augmented copies of each training track,
MusiCNN embeddings of every version, one worker per core): download (extraction), validate,
split (official), features. The baseline, measured in the same run, is the same tracks as the
original WAV files through the folder source: the difference is what FMA's MP3s cost.

Then two epochs of each network on the MP3 features give segments per second, and everything
is scaled to fma_small: 8,000 tracks, official split 6,400 / 800 / 800, so 6,400 x 3 + 1,600
= 20,800 track versions to extract, and per network epoch 19,200 training crops plus the
validation tracks' segments. Printed figures are measured (the subset) or estimated (scaled,
marked so).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import soundfile as sf
import soxr
from common import ROOT, audio_folder, print_table

from helpers.fma import FmaFixture, data_config, fma_archives, fma_params, mp3_bytes
from helpers.http_server import FileServer
from musicgenre import models
from musicgenre.config import load_params
from musicgenre.data.config import DataConfig, SplitConfig, ValidateConfig
from musicgenre.data.download import build_raw
from musicgenre.data.split import make_split
from musicgenre.data.tables import read_manifest
from musicgenre.data.validate import validate_dataset
from musicgenre.features.build import extract_features
from musicgenre.training.data import TrainingData
from musicgenre.training.fit import fit_model
from musicgenre.training.sampler import CropSampler

FMA_SMALL = {"tracks": 8000, "train": 6400, "val": 800, "test": 800}
SPLIT_CYCLE = ["training"] * 3 + ["validation", "test"]


def fma_subset(folder: Path, n_tracks: int) -> tuple[bytes, bytes, list[dict]]:
    rows, clips = [], {}
    files = sorted(folder.glob("*/*.wav"))
    files = [f for i, f in enumerate(files) if i % max(1, len(files) // n_tracks) == 0]
    files = files[:n_tracks]
    for i, path in enumerate(files):
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
        audio = soxr.resample(audio.mean(axis=1), sr, 44100)
        track_id = 1000 + i
        genre = path.parent.name
        rows.append({"track_id": track_id, "album_id": i, "artist_id": i,
                     "artist": f"artist {genre} {i % 5}", "split": SPLIT_CYCLE[i % 5],
                     "subset": "small", "duration": 30, "genre_top": genre.title(),
                     "title": path.stem, "source": path})
        clips[track_id] = mp3_bytes(audio, 44100)
    meta, audio_zip = fma_archives(rows, clips)
    return meta, audio_zip, rows


def data_stages(cfg: DataConfig, work: Path, split_cfg: SplitConfig, split_for=None) -> dict:
    """Run download -> validate -> split -> features; seconds per stage."""
    params = load_params("features", "augment", path=ROOT / "params.yaml")
    features, augment = params["features"], params["augment"]
    seconds = {}
    start = time.perf_counter()
    provenance = build_raw(cfg, "auto", 42, work / "raw", progress=False)
    seconds["download"] = time.perf_counter() - start
    start = time.perf_counter()
    validate_dataset(work / "raw/genres", ValidateConfig(min_tracks_per_genre=1),
                     provenance["genres"],
                     work / "manifest.csv", work / "reports", progress=False,
                     metadata_path=work / "raw/metadata.csv")
    seconds["validate"] = time.perf_counter() - start
    manifest = read_manifest(work / "manifest.csv")
    if split_for is not None:  # the same assignment as the MP3 run, by source file
        split = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                              "split": [split_for[i] for i in manifest["id"]]})
    else:
        split, _ = make_split(manifest, split_cfg, 42)
    start = time.perf_counter()
    meta = extract_features(manifest, split, provenance["genres"], features, augment, 42,
                            work / "features", progress=False)
    seconds["features"] = time.perf_counter() - start
    seconds["versions"] = sum(s["tracks"] * (1 + (s["augmented_segments"] > 0) * augment.copies)
                              for s in meta["splits"].values())
    return {"seconds": seconds, "split": split, "meta": meta}


def epoch_rate(features_dir: Path, work: Path, epochs: int = 2) -> dict[str, float]:
    """Segments per second in an epoch of each network (training crops + validation), from
    the epoch times the train stage records (model set-up and calibration left out)."""
    rates = {}
    for name in models.names():
        spec = models.get(name)
        if not spec.is_neural:
            continue
        data = TrainingData.from_features_dir(features_dir)
        chosen = {"seed": 42, **load_params("train", name, path=ROOT / "params.yaml")}
        fit_model(spec, chosen, data, work / name, work / f"live-{name}", progress=False,
                  epochs=epochs)
        timing = json.loads((work / f"live-{name}" / "timing.json").read_text())
        seconds = timing["mean_epoch_seconds"]
        cfg = chosen["train"]
        crops = len(CropSampler(data.idx_train, cfg.crops_per_track, cfg.min_epoch_crops))
        rates[name] = (crops + len(data.idx_val)) / seconds
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=50, help="tracks in the measured subset")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, what = audio_folder(tmp)
        meta_zip, audio_zip, rows = fma_subset(folder, args.tracks)
        server = FileServer()
        server.routes.update({"/fma_metadata.zip": meta_zip, "/fma_small.zip": audio_zip})
        server.thread.start()
        try:
            fma_cfg = data_config(fma_params(server.url, FmaFixture(meta_zip, audio_zip),
                                             tmp / "cache"))
            mp3 = data_stages(fma_cfg, tmp / "mp3", SplitConfig(method="official"))
        finally:
            server.httpd.shutdown()
            server.httpd.server_close()
        # the same tracks as WAV, with the same split assignment
        by_source = {f"{r['source'].parent.name}.{r['track_id']:06d}": r["source"].stem
                     for r in rows}
        wav_split = {by_source[t]: s for t, s in zip(mp3["split"]["id"], mp3["split"]["split"],
                                                     strict=True)}
        originals = tmp / "originals"
        for r in rows:
            (originals / r["source"].parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(r["source"], originals / r["source"].parent.name / r["source"].name)
        wav_cfg = data_config({"data.source": "folder", "data.path": str(originals),
                               "data.artists.gtzan_index": None, "data.artists.tags": False})
        wav = data_stages(wav_cfg, tmp / "wav", SplitConfig(), split_for=wav_split)
        rates = epoch_rate(tmp / "mp3/features", tmp / "train")
        shutil.rmtree(tmp / "train", ignore_errors=True)

    n = len(rows)
    rows_out = []
    for stage in ("download", "validate", "features"):
        a, b = mp3["seconds"][stage], wav["seconds"][stage]
        rows_out.append([stage, f"{a:.1f}", f"{b:.1f}", f"{a / b:.2f}x"])
    print_table(f"Data stages on {n} {what}: FMA-like MP3 (44.1 kHz stereo) vs the WAV "
                f"originals, measured", ["stage", "MP3 s", "WAV s", "MP3 / WAV"], rows_out)
    versions = mp3["seconds"]["versions"]
    per_version = mp3["seconds"]["features"] / versions
    small_versions = FMA_SMALL["train"] * 3 + FMA_SMALL["val"] + FMA_SMALL["test"]
    per_file = {s: mp3["seconds"][s] / n for s in ("download", "validate")}
    est = [["extract (download stage, after the 7.2 GiB transfer)",
            f"{per_file['download']:.3f} s/track", f"{per_file['download'] * 8000 / 60:.0f} min"],
           ["validate", f"{per_file['validate']:.3f} s/track",
            f"{per_file['validate'] * 8000 / 60:.0f} min"],
           ["features (logmel + MusiCNN, 2 copies)",
            f"{per_version:.3f} s/version ({versions} measured)",
            f"{per_version * small_versions / 3600:.1f} h"]]
    val_segments = FMA_SMALL["val"] * 19  # 30 s at 3 s segments, 1.5 s hop
    crops = FMA_SMALL["train"] * 3
    for name, rate in rates.items():
        epoch = (crops + val_segments) / rate
        est.append([f"train {name}, one epoch", f"{rate:.0f} segments/s",
                    f"{epoch / 60:.1f} min/epoch, {60 * epoch / 3600:.1f} h at 60 epochs"])
    print_table(f"fma_small on this machine ({FMA_SMALL['tracks']} tracks), ESTIMATED from the "
                "measured rates above", ["step", "measured rate", "fma_small estimate"], est)


if __name__ == "__main__":
    main()
