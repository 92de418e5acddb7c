"""The params of the evaluation stages: `robustness`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from musicgenre.core.errors import ConfigError


@dataclass
class RobustnessConfig:
    """Conditions a listener's audio really meets (the seed study's question 4): each value
    is one condition, applied alone to every test track; an empty list leaves it out."""

    snr_db: list[float] = field(default_factory=lambda: [5.0])  # Gaussian noise
    pitch_semitones: list[float] = field(default_factory=lambda: [-4.0, 4.0])
    tempo_percent: list[float] = field(default_factory=lambda: [-15.0, 15.0])  # pitch kept
    mp3_kbps: list[int] = field(default_factory=lambda: [64])  # encoded and decoded, CBR
    reverb_room: list[float] = field(default_factory=lambda: [0.7])  # room size 0..1
    telephone: bool = True  # band-passed to 300-3400 Hz
    resample_hz: list[int] = field(default_factory=lambda: [8000])  # down and back up
    gain_db: list[float] = field(default_factory=lambda: [-20.0])  # quieter (or louder)

    def check(self, key: str) -> None:
        ranges = {"snr_db": (-20, 80), "pitch_semitones": (-12, 12),
                  "tempo_percent": (-50, 100), "mp3_kbps": (8, 320), "reverb_room": (0, 1),
                  "resample_hz": (4000, 48000), "gain_db": (-60, 20)}
        for name, (low, high) in ranges.items():
            for value in getattr(self, name):
                if not (isinstance(value, int | float) and math.isfinite(value)
                        and low <= value <= high):
                    raise ConfigError(f"{key}.{name}: each value must be a number in "
                                      f"{low}..{high}, got {value!r}")
