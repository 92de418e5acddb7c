"""Embedding benchmark: what `features.embedding` adds to the features stage.

Prints milliseconds per 30-s track for the segment embeddings (19 segments of 3 s, hop 1.5 s)
computed as the pipeline does (one resample and one log-mel per track, patches batched through
the network) and the naive way (each segment resampled, transformed and run on its own, as
musicnn's per-file extractor would be called per segment), next to the log-mel features for
the same track, with the extrapolated cost of full GTZAN (1000 tracks, 2 augmented copies of
the 700 training tracks). The two ways' embeddings differ: a waveform cut to one segment has
different edge frames (centred STFT, resampling edges), and max-pooling picks them up. The
pipeline cuts patches from the whole track's log-mel, as musicnn's own extractor does.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import audio_folder, print_table

from musicgenre.audio import load_audio
from musicgenre.config import FeaturesConfig
from musicgenre.embeddings import embed_segments
from musicgenre.features import segment_embeddings, segment_starts, segments_from_audio


def naive(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """One segment at a time: cut the waveform, then resample, log-mel and run each alone."""
    n_frames = 1 + len(audio) // cfg.hop_length
    out = []
    for start in segment_starts(n_frames, cfg):
        first = start * cfg.hop_length
        piece = audio[first:first + int(cfg.segment_s * cfg.sample_rate)]
        out.append(embed_segments(piece, cfg.sample_rate, [0.0], cfg.segment_s,
                                  cfg.embedding)[0])
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cfg = FeaturesConfig(embedding="MSD_musicnn")
    with tempfile.TemporaryDirectory() as tmp:
        folder, what = audio_folder(Path(tmp))
        paths = sorted(folder.rglob("*.wav"))[:: 10][: args.tracks]
        tracks = [load_audio(p, cfg.sample_rate)[0] for p in paths]
    fns = {"log-mel features (reference)": lambda a: segments_from_audio(a, cfg),
           "embeddings, pipeline (batched)": lambda a: segment_embeddings(a, cfg),
           "embeddings, naive (per segment)": lambda a: naive(a, cfg)}
    ours = segment_embeddings(tracks[0], cfg)
    slow = naive(tracks[0], cfg)
    differ = float(np.abs(ours - slow).max() / np.abs(ours).max())
    for fn in fns.values():
        fn(tracks[0])  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.repeats):
        for audio in tracks:
            for name, fn in fns.items():
                start = time.perf_counter()
                fn(audio)
                times[name].append(time.perf_counter() - start)
    versions = 1000 + 700 * 2  # originals + augmented copies of the training tracks
    rows = []
    for name, values in times.items():
        ms = 1000 * float(np.median(values))
        rows.append([name, f"{ms:.0f}", f"{ms * versions / 60000:.1f}"])
    print(f"\n{len(tracks)} {what}, {args.repeats} repeats, torch threads "
          f"{torch.get_num_threads()}; naive vs pipeline embeddings: max difference "
          f"{differ:.0%} of the largest value (edge frames of a cut waveform)")
    print_table("MusiCNN segment embeddings per track", ["what", "ms per track",
                "full GTZAN, minutes (1 process)"], rows)


if __name__ == "__main__":
    main()
