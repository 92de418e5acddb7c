"""Predict benchmark: seconds per 30-s track for `musicgenre predict` with the default
(transfer) model on 50 real files, the model loaded once.

The pipeline's way (`classify_files`: one worker process per core, one thread each, the model
and the MusiCNN network loaded once per worker) against the naive way of the previous
`predict`: one file after another in one process with torch's and BLAS's default threads.
The model is a transfer model fitted here on the embeddings of 20 of the tracks (its accuracy
is not the point; its cost per file is the same as any transfer model's).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import audio_folder, cpu_count, print_table

from musicgenre import models
from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.data.validate import scan_folder
from musicgenre.features.build import extract_features
from musicgenre.features.config import AugmentConfig, FeaturesConfig
from musicgenre.inference.checkpoint import load_classifier
from musicgenre.inference.predict import classify_file, classify_files
from musicgenre.training.data import TrainingData
from musicgenre.training.fit import fit_model as fit


def fit_model(folder: Path, out: Path) -> Path:
    manifest = scan_folder(folder, progress=False)
    picked = manifest.groupby("genre").head(2)  # 20 tracks: train, the next 10: validation
    val = manifest.drop(picked.index).groupby("genre").head(1)
    split = pd.concat([picked.assign(split="train"), val.assign(split="val")])
    split = split[["id", "genre", "split"]]
    extract_features(manifest, split, GTZAN_GENRES, FeaturesConfig(embedding="MSD_musicnn"),
                     AugmentConfig(copies=0), 0, out / "features", progress=False)
    data = TrainingData.from_features_dir(out / "features", embeddings=True)
    transfer = models.get("transfer")
    fit(transfer, {"seed": 0, "transfer": transfer.config()}, data, out / "model", out / "live")
    return out / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, what = audio_folder(Path(tmp))
        model = fit_model(folder, Path(tmp))
        files = sorted(folder.rglob("*.wav"))[: args.files]
        ours = {}
        cpu0, start = os.times(), time.perf_counter()
        for path, proba, _ in classify_files(model, files, progress=False):
            ours[path] = proba
        pooled = time.perf_counter() - start
        cpu1 = os.times()
        classifier = load_classifier(model)
        start = time.perf_counter()
        naive = {str(p): classify_file(classifier, p) for p in files}
        one_process = time.perf_counter() - start
        cpu2 = os.times()
    agree = np.mean([np.argmax(ours[k]) == np.argmax(naive[k]) for k in naive])
    gap = max(float(np.abs(ours[k] - naive[k]).max()) for k in naive)

    def cpu(a, b):  # children's CPU counts for the pool, this process's for the naive run
        return (f"{b.user - a.user + b.children_user - a.children_user:.0f} user, "
                f"{b.system - a.system + b.children_system - a.children_system:.0f} sys")

    n = len(files)
    print(f"\n{n} {what}, {cpu_count()} CPU core(s), model loaded once; predictions agree on "
          f"{agree:.0%} of files (largest probability difference {gap:.1e}); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print_table("predict, transfer model: seconds per 30-s track", [
        "how", "s per track", f"wall s for {n}", "CPU s"], [
        ["pipeline: worker per core, 1 thread each", f"{pooled / n:.2f}", f"{pooled:.1f}",
         cpu(cpu0, cpu1)],
        ["naive: one process, default threads", f"{one_process / n:.2f}", f"{one_process:.1f}",
         cpu(cpu1, cpu2)]])


if __name__ == "__main__":
    main()
