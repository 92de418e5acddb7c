"""Cluster benchmark: the features stage through a 2-worker Dask LocalCluster vs the local
2-process pool, on the same tracks and machine (target: within 1.3x, identical files).

Runs the whole `extract_features` (decode, augmentation with 2 copies of every training
track, log-mel, and the MusiCNN embeddings unless --no-embeddings) on the dev tracks, once
each way, alternating which goes first over --rounds rounds, and prints wall seconds, tracks
per second and whether every output file is byte-identical.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import audio_folder, print_table

from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.data.validate import scan_folder
from musicgenre.features.build import extract_features
from musicgenre.features.config import AugmentConfig, FeaturesConfig


def run(manifest, split, cfg, out: Path, address: str | None) -> float:
    start = time.perf_counter()
    extract_features(manifest, split, GTZAN_GENRES, cfg, AugmentConfig(copies=2), 0, out,
                     progress=False, cluster_address=address)
    return time.perf_counter() - start


def main() -> None:
    from distributed import LocalCluster

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-embeddings", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, what = audio_folder(tmp)
        manifest = scan_folder(folder, progress=False).head(args.tracks)
        split = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                              "split": ["train" if i % 5 else "test"
                                        for i in range(len(manifest))]})
        cfg = FeaturesConfig(workers=2,
                             embedding=None if args.no_embeddings else "MSD_musicnn")
        times = {"local": [], "cluster": []}
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            for r in range(args.rounds):
                order = ["local", "cluster"] if r % 2 == 0 else ["cluster", "local"]
                for way in order:
                    address = cluster.scheduler_address if way == "cluster" else None
                    times[way].append(run(manifest, split, cfg, tmp / f"{way}{r}", address))
        same = all((tmp / "local0" / p.name).read_bytes() == p.read_bytes()
                   for p in (tmp / "cluster0").iterdir())
        n = len(manifest)
        rows = [[way, f"{min(t):.1f}", f"{n / min(t):.2f}"] for way, t in times.items()]
        print_table(f"features of {n} {what}, 2 augmented copies of each training track, "
                    f"embeddings {'off' if args.no_embeddings else 'on'} "
                    f"(best of {args.rounds})", ["path", "wall s", "tracks/s"], rows)
        ratio = min(times["cluster"]) / min(times["local"])
        print(f"cluster / local: {ratio:.2f}x (target <= 1.3x): "
              f"{'yes' if ratio <= 1.3 else 'NO'}; identical files: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
