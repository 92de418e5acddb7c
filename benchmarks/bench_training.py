"""Training benchmark: seconds per epoch and peak memory per model on a 1000-track-sized
feature set (random values of the real shapes; timing does not depend on the values).

Default features on full GTZAN: 700 training tracks x 19 segments x (1 + 2 augmented copies)
~ 39,900 log-mel segments of 128 x 129 (float16, 1.3 GB) and 150 validation tracks. An epoch
is timed on a sample of batches and extrapolated (a full sweep of each model would take many
minutes on 2 cores), two ways: the old full sweep over every segment (`crops_per_track: 0`)
and the default `train.crops_per_track` random crops per track version. Both validate on
every segment of the 150 validation tracks. Memory: each model trains in its own process over
the memory-mapped float16 arrays the pipeline writes; the naive baseline loads the same array
into RAM as float32 first, as a first script would.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import cpu_count, print_table

from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.features.config import FeaturesConfig
from musicgenre.features.store import NpyStreamWriter
from musicgenre.training.config import TrainConfig

TRAIN_SEGMENTS = 700 * 19 * 3
VAL_SEGMENTS = 150 * 19


def make_features(out: Path, rows: int, frames: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", TRAIN_SEGMENTS), ("val", VAL_SEGMENTS)):
        writer = NpyStreamWriter(out / f"{split}.npy", (rows, frames))
        for start in range(0, n, 2000):
            writer.append(rng.standard_normal((min(2000, n - start), rows, frames)))
        writer.close()
        labels = np.arange(n) // 19 % len(GTZAN_GENRES)
        pd.DataFrame({"row": np.arange(n), "track_id": [f"t{i // 19}" for i in range(n)],
                      "genre": [GTZAN_GENRES[k] for k in labels], "label": labels,
                      "segment": np.arange(n) % 19, "copy": 0}).to_csv(out / f"{split}.csv",
                                                                       index=False)
    meta = {"genres": GTZAN_GENRES, "features": FeaturesConfig().__dict__,
            "mean": [0.0] * rows, "std": [1.0] * rows, "segment_frames": frames}
    (out / "meta.json").write_text(json.dumps(meta))


def measure(model_name: str, features: Path, batches: int, naive: bool) -> dict:
    """Runs in a child process: time `batches` training steps, estimate one epoch."""

    from musicgenre.core.process import tune_allocator

    tune_allocator()  # as in the train stage

    from dataclasses import replace

    from musicgenre import models
    from musicgenre.training.data import TrainingData
    from musicgenre.training.loop import start_run, train_step, validate
    from musicgenre.training.sampler import CropSampler

    data = TrainingData.from_features_dir(features)
    if naive:  # what a first script does: the whole training array in RAM as float32
        data.x_train = np.asarray(np.load(features / "train.npy"), dtype=np.float32)
    cfg = TrainConfig(device="cpu")
    x, index = data.x_train, data.idx_train
    y = index["label"].to_numpy(np.int64)
    spec = models.get(model_name)
    if not spec.is_neural:  # an estimator on track summaries: its one-step fit
        start = time.perf_counter()
        groups = [np.arange(i, min(i + 19, len(x))) for i in range(0, len(x), 19)]
        stats = np.stack([spec.track_summary(x[g]) for g in groups])
        spec.estimator(spec.config(), 0).fit(stats, y[::19][: len(stats)])
        epoch = time.perf_counter() - start
    else:
        n_val = len(data.x_val)
        # validation timed on its first 1024 segments, scaled to all of them
        run = start_run(spec, spec.config(), cfg, 0,
                        replace(data, x_val=data.x_val[:1024], idx_val=data.idx_val[:1024]))
        order = np.random.default_rng(0).permutation(len(x))
        times = []
        for b in range(batches + 2):  # the first two are warm-up
            rows = np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            start = time.perf_counter()
            train_step(run, rows)
            times.append(time.perf_counter() - start)
        per_batch = float(np.median(times[2:]))
        start = time.perf_counter()
        validate(run)
        val_seconds = (time.perf_counter() - start) * n_val / min(n_val, 1024)
        epoch = per_batch * math.ceil(len(x) / cfg.batch_size) + val_seconds
        crops = len(CropSampler(index, cfg.crops_per_track, cfg.min_epoch_crops))
        crop_epoch = per_batch * math.ceil(crops / cfg.batch_size) + val_seconds
        return {"epoch_seconds": epoch, "crop_epoch_seconds": crop_epoch,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return {"epoch_seconds": epoch, "crop_epoch_seconds": epoch,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per model")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, features, naive, out = args.child
        result = measure(name, Path(features), args.batches, naive == "1")
        Path(out).write_text(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        features = Path(tmp) / "features"
        cfg = FeaturesConfig()
        make_features(features, cfg.n_rows, cfg.segment_frames)
        size_mb = (features / "train.npy").stat().st_size / 2**20
        rows = []
        for name in ("baseline", "cnn", "rnn", "crnn"):
            result = {}
            for naive in ("0", "1"):
                out = Path(tmp) / f"{name}{naive}.json"
                subprocess.run([sys.executable, __file__, "--batches", str(args.batches),
                                "--child", name, str(features), naive, str(out)], check=True)
                result[naive] = json.loads(out.read_text())
            sweep, crops = result["0"]["epoch_seconds"], result["0"]["crop_epoch_seconds"]
            rows.append([name, f"{sweep:.0f}", f"{crops:.1f}", f"{sweep / crops:.1f}x",
                         f"{result['0']['peak_rss_mb']:.0f}",
                         f"{result['1']['peak_rss_mb']:.0f}",
                         f"{result['1']['epoch_seconds']:.0f}"])
        print(f"# Training benchmark\n\n{TRAIN_SEGMENTS} training segments of "
              f"{cfg.n_rows} x {cfg.segment_frames} (float16 on disk: {size_mb:.0f} MB), "
              f"{VAL_SEGMENTS} validation segments, batch {TrainConfig().batch_size}, "
              f"{cpu_count()} CPU core(s), default model params.")
        crops = TrainConfig().crops_per_track
        print_table("Seconds per epoch (extrapolated from timed batches) and peak memory",
                    ["model", "s/epoch, full sweep (old)",
                     f"s/epoch, {crops} crop(s) per track version (default)", "speed-up",
                     "peak RSS MB (mmap)", "peak RSS MB (naive: all float32 in RAM)",
                     "s/epoch (naive, full sweep)"], rows)
        print("\nThe baseline's 'epoch' is its whole fit: per-track statistics + logistic "
              "regression. Validation (every segment of 150 tracks) is in both columns.")


if __name__ == "__main__":
    main()
