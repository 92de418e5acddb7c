"""Non-music probes: audio that belongs to none of the model's genres, to measure `unknown`.

Every probe is generated (no files needed) and seeded: white, pink and brown noise, a pure
tone, a slow sine sweep, mains hum with harmonics, and speech-like babble (a glottal pulse
train at a gliding pitch through three moving formant resonators, switched on and off at a
syllable rate). None is music; a classifier that still names a genre for them with the
confidence it has on real music will do the same to a podcast or a field recording.
Silence never reaches a model (predict refuses it as silent).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

PROBE_SECONDS = 10.0


def _normalise(x: np.ndarray, dbfs: float = -20.0) -> np.ndarray:
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12) * 10 ** (dbfs / 20)).astype(np.float32)


def _coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    return np.fft.irfft(spectrum / freqs ** (exponent / 2), n)


def _babble(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.28))  # gliding pitch
    phase = np.cumsum(f0 / sr)
    source = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)  # one pulse per period
    voice = np.zeros(n)
    for low, high in ((300, 900), (900, 2300), (2300, 3200)):  # three formant regions
        centre = rng.uniform(low, high) + 150 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)
        radius = np.exp(-np.pi * 120 / sr)
        # a resonator whose centre moves: filter in short blocks with that block's centre
        for start in range(0, n, 512):
            block = slice(start, min(start + 512, n))
            theta = 2 * np.pi * centre[start] / sr
            voice[block] += lfilter([1.0], [1, -2 * radius * np.cos(theta), radius ** 2],
                                    source[block])
    syllables = (np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6.28)) > -0.2).astype(float)
    envelope = lfilter([0.01], [1, -0.99], syllables)  # soft on/offsets
    return voice * envelope


def non_music_probes(sample_rate: int, seed: int = 0,
                     seconds: float = PROBE_SECONDS) -> dict[str, np.ndarray]:
    """{probe name: mono float32 audio at -20 dBFS RMS}."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    sweep = np.sin(2 * np.pi * 100 * (40 ** (t / seconds) - 1) * seconds / np.log(40))
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6))
    probes = {"white noise": rng.standard_normal(n),
              "pink noise": _coloured_noise(rng, n, 1.0),
              "brown noise": _coloured_noise(rng, n, 2.0),
              "sine 440 Hz": np.sin(2 * np.pi * 440 * t),
              "sine sweep 100 Hz-4 kHz": sweep,
              "mains hum 50 Hz": hum,
              "speech-like babble": _babble(rng, n, sample_rate)}
    return {name: _normalise(x) for name, x in probes.items()}


def probe_answers(classifier, seed: int = 0) -> list[dict]:
    """What the classifier says to each probe: its label (a genre or unknown), top
    calibrated probability and novelty distance, exactly as predict would."""
    from musicgenre.inference.predict import predict_audio

    answers = []
    for name, audio in non_music_probes(classifier.features.sample_rate, seed).items():
        said = predict_audio(classifier, [audio])
        answers.append({"probe": name, "label": said.label,
                        "top_probability": float(said.proba.max()), "novelty": said.novelty})
    return answers
