"""The params of the evaluation stages: `robustness`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RobustnessConfig:
    snr_db: list[float] = field(default_factory=lambda: [30.0, 20.0, 10.0])
    pitch_semitones: list[float] = field(default_factory=lambda: [-2.0, 2.0])
