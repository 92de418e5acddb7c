"""Embedding benchmark: what `features.embedding` adds to the features stage.

Prints milliseconds per 30-s track for the 19 segment embeddings (3 s, hop 1.5 s) three ways:
the pipeline's (the network runs once over the whole track, each segment max-pools its own
frames), the previous pipeline's (each segment's 3-s patch cut from the track's log-mel and
run through the network on its own, in batches: every frame is computed about twice), and the
naive way (each segment's waveform resampled, transformed and run alone). The log-mel features
of the same track are the reference. The last column extrapolates to full GTZAN: 1000 track
versions now (originals only, `features.embed_augmented: false`), 2400 before (the 700
training tracks' 2 augmented copies too).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import torch
from common import audio_folder, print_table

from musicgenre.core.process import tune_allocator
from musicgenre.data.audio import load_audio
from musicgenre.features.config import FeaturesConfig
from musicgenre.features.extract import segment_embeddings, segment_starts, segments_from_audio
from musicgenre.features.musicnn import (
    SAMPLE_RATE,
    embed_segments,
    load_musicnn,
    log_mel,
    patch_frames,
    patch_starts,
)


def starts_s(audio: np.ndarray, cfg: FeaturesConfig) -> list[float]:
    n_frames = 1 + len(audio) // cfg.hop_length
    return [s * cfg.hop_length / cfg.sample_rate for s in segment_starts(n_frames, cfg)]


def per_patch(audio: np.ndarray, cfg: FeaturesConfig, batch: int = 16) -> np.ndarray:
    """The previous pipeline: 3-s patches of the track's log-mel, batched through the network."""
    spec = log_mel(librosa.resample(audio, orig_sr=cfg.sample_rate, target_sr=SAMPLE_RATE))
    frames = patch_frames(cfg.segment_s)
    firsts = patch_starts(len(spec), starts_s(audio, cfg), frames)
    patches = np.stack([spec[s:s + frames] for s in firsts])
    network = load_musicnn(cfg.embedding)
    with torch.no_grad():
        return np.concatenate([network(torch.from_numpy(patches[i:i + batch]))[1].numpy()
                               for i in range(0, len(patches), batch)])


def naive(audio: np.ndarray, cfg: FeaturesConfig) -> np.ndarray:
    """One segment at a time: cut the waveform, then resample, log-mel and run each alone."""
    out = []
    for start in starts_s(audio, cfg):
        first = int(round(start * cfg.sample_rate))
        piece = audio[first:first + int(cfg.segment_s * cfg.sample_rate)]
        out.append(embed_segments(piece, cfg.sample_rate, [0.0], cfg.segment_s,
                                  cfg.embedding)[0])
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    tune_allocator()  # as in every pipeline process, for all three ways alike
    cfg = FeaturesConfig(embedding="MSD_musicnn")
    with tempfile.TemporaryDirectory() as tmp:
        folder, what = audio_folder(Path(tmp))
        paths = sorted(folder.rglob("*.wav"))[:: 10][: args.tracks]
        tracks = [load_audio(p, cfg.sample_rate)[0] for p in paths]
    fns = {"log-mel features (reference)": (lambda a: segments_from_audio(a, cfg), 1000 + 1400),
           "embeddings, pipeline (once per track)": (lambda a: segment_embeddings(a, cfg), 1000),
           "embeddings, before (per 3-s patch, batched)": (lambda a: per_patch(a, cfg), 2400),
           "embeddings, naive (per segment waveform)": (lambda a: naive(a, cfg), 2400)}
    ours, patches = segment_embeddings(tracks[0], cfg), per_patch(tracks[0], cfg)
    differ = float(np.abs(ours - patches).max() / np.abs(patches).max())
    corr = float(np.corrcoef(ours.ravel(), patches.ravel())[0, 1])
    for fn, _ in fns.values():
        fn(tracks[0])  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.repeats):
        for audio in tracks:
            for name, (fn, _) in fns.items():
                start = time.perf_counter()
                fn(audio)
                times[name].append(time.perf_counter() - start)
    rows = []
    before = 1000 * float(np.median(times["embeddings, before (per 3-s patch, batched)"]))
    for name, values in times.items():
        ms = 1000 * float(np.median(values))
        versions = fns[name][1]
        rows.append([name, f"{ms:.0f}", f"{before / ms:.2f}x", str(versions),
                     f"{ms * versions / 60000:.1f}"])
    print(f"\n{len(tracks)} {what}, {args.repeats} repeats, torch threads "
          f"{torch.get_num_threads()}; once per track vs per patch: correlation {corr:.4f}, "
          f"max difference {differ:.0%} of the largest value (frames near a patch edge now "
          "see their real neighbours instead of zero padding)")
    print_table("MusiCNN segment embeddings per 30-s track", [
        "what", "ms per track version", "vs per patch", "GTZAN versions embedded",
        "full GTZAN, minutes (1 process)"], rows)


if __name__ == "__main__":
    main()
