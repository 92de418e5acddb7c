"""An offline, seeded generator of genre-like music.

Each genre has a recipe: a tempo range, a drum pattern, an instrument timbre, a scale and chord
progression, a swing amount and a bass style. Tracks vary key, tempo, pattern density and
timbre within the recipe, and every track is normalised to a random loudness drawn from the same
range for all genres, so loudness alone tells nothing: a model has to learn rhythm, timbre and
harmony, as on real music.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
BLUES = [0, 3, 5, 6, 7, 10]
DORIAN = [0, 2, 3, 5, 7, 9, 10]
PHRYGIAN = [0, 1, 3, 5, 7, 8, 10]


@dataclass(frozen=True)
class Recipe:
    tempo: tuple[float, float]
    kick: tuple[int, ...]  # 16-step grid positions
    snare: tuple[int, ...]
    hat: tuple[int, ...]
    scale: tuple[int, ...]
    progression: tuple[int, ...]  # scale degrees of chord roots, one chord per bar
    harmonics: float  # spectral slope of the lead: higher = darker
    odd_only: bool  # square-like (odd harmonics) vs saw-like timbre
    drive: float  # soft-clipping gain: distortion
    attack_s: float
    notes_per_bar: int
    swing: float  # delay of off-beat 16ths, fraction of a step
    bass: str  # "root", "walking", "none", "offbeat", "eighths"
    chord_rhythm: tuple[int, ...]  # steps where the chord instrument hits
    vibrato: float  # depth in semitones
    hat_level: float


RECIPES: dict[str, Recipe] = {
    "blues": Recipe((70, 95), (0, 8), (4, 12), (0, 3, 4, 7, 8, 11, 12, 15), tuple(BLUES),
                    (0, 0, 3, 0), 1.4, False, 1.5, 0.02, 6, 0.33, "walking", (0, 8), 0.25, 0.4),
    "classical": Recipe((56, 80), (), (), (), tuple(MAJOR), (0, 3, 4, 0), 2.2, False, 1.0,
                        0.25, 4, 0.0, "none", (0,), 0.35, 0.0),
    "country": Recipe((110, 135), (0, 8), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14), tuple(MAJOR),
                      (0, 3, 4, 0), 1.1, False, 1.2, 0.003, 8, 0.1, "root", (0, 4, 8, 12), 0.0,
                      0.5),
    "disco": Recipe((116, 128), (0, 4, 8, 12), (4, 12), (2, 6, 10, 14), tuple(MINOR),
                    (0, 3, 5, 4), 0.9, True, 1.0, 0.01, 8, 0.0, "offbeat", (2, 6, 10, 14), 0.0,
                    0.9),
    "hiphop": Recipe((80, 96), (0, 3, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14), tuple(MINOR),
                     (0, 0, 5, 5), 2.0, False, 1.0, 0.01, 2, 0.2, "root", (0,), 0.0, 0.6),
    "jazz": Recipe((120, 170), (0,), (6, 14), (0, 6, 8, 14), tuple(DORIAN), (1, 4, 0, 0), 1.8,
                   False, 1.0, 0.02, 8, 0.33, "walking", (3, 10), 0.1, 0.5),
    "metal": Recipe((160, 200), (0, 2, 4, 6, 8, 10, 12, 14), (4, 12), (0, 4, 8, 12),
                    tuple(PHRYGIAN), (0, 1, 0, 5), 0.6, False, 8.0, 0.002, 16, 0.0, "eighths",
                    (0, 2, 4, 6, 8, 10, 12, 14), 0.0, 0.7),
    "pop": Recipe((98, 120), (0, 8, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14), tuple(MAJOR),
                  (0, 4, 5, 3), 1.0, True, 1.0, 0.01, 4, 0.0, "root", (0, 6, 8), 0.05, 0.6),
    "reggae": Recipe((66, 82), (8,), (8,), (2, 6, 10, 14), tuple(MAJOR), (0, 3, 0, 4), 1.3,
                     True, 1.0, 0.005, 4, 0.15, "offbeat", (4, 12), 0.0, 0.5),
    "rock": Recipe((110, 145), (0, 6, 8), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14), tuple(MAJOR),
                   (0, 4, 5, 3), 0.8, False, 4.0, 0.005, 8, 0.0, "eighths", (0, 4, 8, 12),
                   0.0, 0.6),
}


def _tone(freq: float, dur: float, sr: int, recipe: Recipe, rng: np.random.Generator,
          slope: float) -> np.ndarray:
    n = max(int(dur * sr), 1)
    t = np.arange(n) / sr
    vib = 2 ** (recipe.vibrato * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t) / 12)
    phase = 2 * np.pi * freq * np.cumsum(vib) / sr
    out = np.zeros(n)
    for k in range(1, 12):
        if recipe.odd_only and k % 2 == 0:
            continue
        if k * freq > sr / 2.2:
            break
        out += np.sin(k * phase) / k**slope
    attack = max(int(recipe.attack_s * sr), 1)
    env = np.minimum(1.0, np.arange(n) / attack) * np.exp(-t * (1.5 / max(dur, 1e-3)))
    return out * env


def _drum(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "kick":
        n = int(0.25 * sr)
        t = np.arange(n) / sr
        f = 50 + 90 * np.exp(-t * 30)
        return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t * 12)
    if kind == "snare":
        n = int(0.18 * sr)
        t = np.arange(n) / sr
        noise = rng.standard_normal(n) * np.exp(-t * 25)
        return 0.7 * noise + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    n = int(0.05 * sr)  # hat: high-passed noise burst
    noise = np.diff(rng.standard_normal(n + 1))
    return 0.5 * noise * np.exp(-np.arange(n) / sr * 90)


def _add(buf: np.ndarray, sig: np.ndarray, start: int, gain: float) -> None:
    if start >= len(buf):
        return
    end = min(len(buf), start + len(sig))
    buf[start:end] += gain * sig[: end - start]


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def render_track(genre: str, duration_s: float, sample_rate: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Render one track of `genre` as float32 mono in [-1, 1]."""
    recipe = RECIPES[genre]
    sr = sample_rate
    n = int(duration_s * sr)
    music = np.zeros(n)
    drums = np.zeros(n)
    bpm = rng.uniform(*recipe.tempo)
    step = 60.0 / bpm / 4  # one 16th note
    key = 48 + int(rng.integers(0, 12))
    slope = recipe.harmonics * rng.uniform(0.85, 1.15)
    scale = np.array(recipe.scale)
    keep = rng.uniform(0.8, 1.0)  # pattern density varies per track
    kit = {k: _drum(k, sr, rng) for k in ("kick", "snare", "hat")}

    def at(bar: int, s: int) -> int:
        swing = recipe.swing * step if s % 2 == 1 else 0.0
        return int(((bar * 16 + s) * step + swing) * sr)

    n_bars = int(np.ceil(duration_s / (16 * step))) + 1
    for bar in range(n_bars):
        degree = recipe.progression[bar % len(recipe.progression)]
        root = key + scale[degree % len(scale)]
        chord = [root + scale[(degree + i) % len(scale)] - scale[degree % len(scale)]
                 + 12 * ((degree + i) // len(scale)) for i in (0, 2, 4)]
        for kind, gain in (("kick", 1.0), ("snare", 0.7), ("hat", 0.3 * recipe.hat_level)):
            for s in getattr(recipe, kind):
                if rng.random() < keep:
                    _add(drums, kit[kind], at(bar, s), gain * rng.uniform(0.8, 1.0))
        chord_len = 4 * step if len(recipe.chord_rhythm) > 1 else 16 * step
        for s in recipe.chord_rhythm:
            for note in chord:
                _add(music, _tone(_midi_hz(note + 12), chord_len, sr, recipe, rng, slope),
                     at(bar, s), 0.25)
        note_steps = 16 // recipe.notes_per_bar
        for i in range(recipe.notes_per_bar):
            if rng.random() > keep:
                continue
            pitch = key + 24 + scale[int(rng.integers(0, len(scale)))]
            _add(music, _tone(_midi_hz(pitch), note_steps * step, sr, recipe, rng, slope),
                 at(bar, i * note_steps), 0.35)
        bass_steps = {"root": (0, 8), "walking": (0, 4, 8, 12), "offbeat": (2, 6, 10, 14),
                      "eighths": tuple(range(0, 16, 2)), "none": ()}[recipe.bass]
        for j, s in enumerate(bass_steps):
            walk = scale[(degree + j) % len(scale)] if recipe.bass == "walking" else 0
            bass = _tone(_midi_hz(key - 12 + walk + scale[degree % len(scale)]), 2 * step, sr,
                         recipe, rng, 2.5)
            _add(music, bass, at(bar, s), 0.5)

    music = np.tanh(recipe.drive * music) / np.tanh(recipe.drive)
    mix = music / (np.abs(music).max() + 1e-9) + 0.8 * drums / (np.abs(drums).max() + 1e-9)
    mix += 10 ** (rng.uniform(-50, -40) / 20) * rng.standard_normal(n)  # recording noise floor
    target_rms = 10 ** (rng.uniform(-22, -16) / 20)  # same loudness range for every genre
    mix *= target_rms / (np.sqrt(np.mean(mix**2)) + 1e-12)
    return np.clip(mix, -1.0, 1.0).astype(np.float32)


def generate_dataset(out_dir: Path, genres: list[str], tracks_per_genre: int, duration_s: float,
                     sample_rate: int, seed: int, progress: bool = True) -> list[Path]:
    """Write `<out_dir>/<genre>/<genre>.NNNNN.wav` for every genre; returns the paths.

    Why seven parameters: the recipe (genres, tracks per genre, duration, rate) and its
    seed are what the `data.synthetic` params and the tests vary; they are passed by name.
    """
    from tqdm import tqdm

    unknown = [g for g in genres if g not in RECIPES]
    if unknown:
        from musicgenre.core.errors import ConfigError

        raise ConfigError(
            f"genres: synthetic source has no recipe for {unknown} (known: {sorted(RECIPES)})"
        )
    paths = []
    jobs = [(gi, g, i) for gi, g in enumerate(genres) for i in range(tracks_per_genre)]
    for gi, genre, i in tqdm(jobs, desc="synthetic audio", unit="track", disable=not progress):
        rng = np.random.default_rng([seed, gi, i])
        audio = render_track(genre, duration_s, sample_rate, rng)
        path = out_dir / genre / f"{genre}.{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, audio, sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths
