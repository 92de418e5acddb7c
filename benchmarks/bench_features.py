"""Feature extraction benchmark: one-STFT extraction vs naive per-feature librosa calls.

Prints (1) per-track milliseconds for each feature set: the bare STFT (the floor), our
extractor, and the naive way (one librosa call per feature, each computing its own STFT);
(2) tracks per second with 1 worker and with all cores; (3) peak memory of a 1000-track run
(dev tracks repeated) next to the size of the arrays a naive in-memory run would hold.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
from common import ROOT, audio_folder, cpu_count, print_table

from musicgenre.data.audio import load_audio
from musicgenre.features.build import _work, track_pool
from musicgenre.features.config import AugmentConfig, FeaturesConfig
from musicgenre.features.extract import frame_features

SETS = ["logmel", "mfcc", "chroma", "contrast", "seed_stack", "logmel+mfcc+chroma+contrast"]


def naive(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """What a first script does: each feature from the waveform, each with its own STFT."""
    kw = {"sr": cfg.sample_rate, "n_fft": cfg.n_fft, "hop_length": cfg.hop_length}
    calls = {
        "logmel": lambda: librosa.power_to_db(
            librosa.feature.melspectrogram(y=audio, n_mels=cfg.n_mels, **kw)),
        "mfcc": lambda: librosa.feature.mfcc(y=audio, n_mfcc=cfg.n_mfcc, n_mels=cfg.n_mels, **kw),
        "chroma": lambda: librosa.feature.chroma_stft(y=audio, tuning=cfg.chroma_tuning, **kw),
        "contrast": lambda: librosa.feature.spectral_contrast(y=audio, **kw),
    }
    return np.concatenate([calls[c]() for c in cfg.components])


def verdict(cfg: FeaturesConfig, ours: float, slow: float, floor_ms: float) -> str:
    within_floor = ours <= 2 * floor_ms
    if len(cfg.components) == 1:  # one feature: nothing to share, naive/ours ~1x by design
        return "yes (floor); n/a (naive)" if within_floor else "NO (floor)"
    return "yes" if within_floor and slow >= 2 * ours else "NO"


def per_track_ms(fns: dict, tracks, repeats: int) -> dict[str, float]:
    """Median milliseconds per call of each function, measured round-robin.

    Interleaving the functions on every track makes them share whatever the machine is doing
    at the moment, so their ratios are stable even when absolute times drift.
    """
    for fn in fns.values():
        fn(tracks[0])  # warm-up: numba JIT, FFT plans, filter banks
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for t in tracks:
            for name, fn in fns.items():
                start = time.perf_counter()
                fn(t)
                times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(v)) for name, v in times.items()}


def throughput(paths: list[Path], workers: int, copies: int) -> float:
    """Steady-state tracks/s (the pool is started and warmed up before timing)."""
    jobs = [(str(p), p.stem, copies) for p in paths]
    with track_pool(FeaturesConfig(), AugmentConfig(copies=copies), 0, workers) as pool:
        list(pool.map(_work, jobs[: 2 * workers], progress=False))  # warm-up: JIT in workers
        start = time.perf_counter()
        for _ in pool.map(_work, jobs, progress=False):
            pass
        return len(jobs) / (time.perf_counter() - start)


def memory_run(n_tracks: int, copies: int, genres_dir: Path, out: Path) -> dict:
    """Run the real stage function on n_tracks (dev tracks repeated) in this process."""
    import pandas as pd

    from musicgenre.data.config import SplitConfig
    from musicgenre.data.genres import GTZAN_GENRES
    from musicgenre.data.split import make_split
    from musicgenre.features.build import extract_features

    files = sorted(genres_dir.glob("*/*.wav"))
    rows = [{"id": f"{f.parent.name}.{i:05d}", "genre": f.parent.name, "path": str(f),
             "md5": f"{i}"} for i, f in enumerate(files[j % len(files)] for j in range(n_tracks))]
    manifest = pd.DataFrame(rows)
    split, _ = make_split(manifest, SplitConfig(), seed=0)
    start = time.perf_counter()
    meta = extract_features(manifest, split, GTZAN_GENRES, FeaturesConfig(),
                            AugmentConfig(copies=copies), 0, out, progress=True)
    seconds = time.perf_counter() - start
    array_bytes = sum((out / f"{s}.npy").stat().st_size for s in ("train", "val", "test"))
    kib_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "array_mb": array_bytes / 2**20, "main_mb": kib_self / 1024,
            "worker_mb": kib_child / 1024, "segments": sum(s["segments"]
                                                           for s in meta["splits"].values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=10, help="tracks for the timing table")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-tracks", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=2, help="augmented copies (memory run)")
    parser.add_argument("--memory-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        genres_dir, what = audio_folder(Path(tmp))
        if args.memory_only:  # child process: a clean RSS measurement
            result = memory_run(args.memory_tracks, args.copies, genres_dir, Path(tmp) / "f")
            args.memory_only.write_text(json.dumps(result))
            return
        every = sorted(genres_dir.glob("*/*.wav"))
        paths = every[:: max(1, len(every) // args.tracks)][: args.tracks]
        tracks = [load_audio(p, 22050)[0] for p in paths]
        print(f"# Feature extraction benchmark\n\nAudio: {len(tracks)} {what}, "
              f"{cpu_count()} CPU core(s), librosa {librosa.__version__}")

        def floor(y):
            return np.abs(librosa.stft(y, n_fft=2048, hop_length=512))

        fns = {"floor": floor}
        for name in SETS:
            cfg = FeaturesConfig(set=name)
            fns[f"ours {name}"] = lambda y, c=cfg: frame_features(y, c)
            fns[f"naive {name}"] = lambda y, c=cfg: naive(y, c)
        ms = per_track_ms(fns, tracks, args.repeats)
        floor_ms = ms["floor"]
        rows = []
        for name in SETS:
            cfg = FeaturesConfig(set=name)
            ours, slow = ms[f"ours {name}"], ms[f"naive {name}"]
            rows.append([name, f"{floor_ms:.1f}", f"{ours:.1f}", f"{slow:.1f}",
                         f"{ours / floor_ms:.2f}x", f"{slow / ours:.2f}x",
                         verdict(cfg, ours, slow, floor_ms)])
        print_table("Per-track time (median ms per 30-s track, single process)",
                    ["feature set", "bare STFT (floor)", "ours", "naive per-feature",
                     "ours / floor", "naive / ours", "target met (<=2x floor, >=2x naive)"],
                    rows)
        print("\nTarget: within 2x of the floor; at least 2x faster than naive where the set "
              "has several features (with one feature there is no STFT to share).")

        all_cores = cpu_count()
        thr = [[w, c, f"{throughput(every, w, c):.2f}"]
               for c in (0, 2) for w in sorted({1, all_cores})]
        print_table("Throughput (default params: log-mel, 3-s segments; copies = augmented "
                    "copies per track)", ["workers", "copies", "tracks/s"], thr)
        print(f"\n{len(every)} tracks per measurement, pool started and warmed up first.")

        result_file = Path(tmp) / "memory.json"
        subprocess.run([sys.executable, __file__, "--memory-only", str(result_file),
                        "--memory-tracks", str(args.memory_tracks), "--copies",
                        str(args.copies)], check=True, cwd=ROOT)
        mem = json.loads(result_file.read_text())
        print_table(f"Memory: {args.memory_tracks}-track run, {args.copies} augmented copies "
                    f"per training track, all cores",
                    ["segments", "feature arrays on disk (MB)", "naive in-memory (MB, >=)",
                     "peak RSS main (MB)", "peak RSS largest worker (MB)", "wall time (s)"],
                    [[mem["segments"], f"{mem['array_mb']:.0f}", f"{mem['array_mb']:.0f}",
                      f"{mem['main_mb']:.0f}", f"{mem['worker_mb']:.0f}",
                      f"{mem['seconds']:.0f}"]])
        print("\nA naive run holds every array in memory before saving (at least the array "
              "size); the streamed writer keeps only the tracks in flight.")


if __name__ == "__main__":
    main()
