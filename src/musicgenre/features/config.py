"""The params of the features stage: `features`, `augment` and `cluster`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from musicgenre.core.errors import ConfigError
from musicgenre.core.parsing import positive
from musicgenre.features import components


@dataclass
class FeaturesConfig:
    set: str = "logmel"  # components joined by '+', or a named set (features/components.py)
    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 20
    chroma_tuning: float | None = 0.0  # null: estimate per track (slower, ~2.5 STFTs)
    segment_s: float = 3.0
    segment_hop_s: float = 1.5
    short_track: Literal["tile", "pad", "drop"] = "tile"  # a track shorter than a segment
    workers: int = 0  # 0: one per CPU core
    embedding: str | None = None  # also store each segment's pretrained embedding: a
    # network of components.EMBEDDINGS, or several joined by '+' (concatenated)
    embedding_layer: str = "taggram"  # taggram | penultimate | max_pool (components.py)
    level_dbfs: float | None = None  # bring each track or clip to this RMS level first
    # (null: keep the recorded level, which then changes the features)
    embed_augmented: bool = True  # embed the augmented copies too, not only the originals

    @property
    def components(self) -> tuple[str, ...]:
        return components.NAMED_SETS.get(self.set) or tuple(self.set.split("+"))

    @property
    def segment_frames(self) -> int:
        return int(round(self.segment_s * self.sample_rate / self.hop_length))

    @property
    def segment_hop_frames(self) -> int:
        return max(1, int(round(self.segment_hop_s * self.sample_rate / self.hop_length)))

    def check(self, key: str) -> None:
        parts = self.components
        bad = [p for p in parts if p not in components.ROWS]
        if bad or len(set(parts)) != len(parts) or not parts:
            raise ConfigError(
                f"{key}.set: '{self.set}' is not a feature set; join {'/'.join(components.ROWS)}"
                f" with '+', or use one of {sorted(components.NAMED_SETS)}"
            )
        if not 8000 <= self.sample_rate <= 48000:
            raise ConfigError(f"{key}.sample_rate: must be in 8000..48000, got {self.sample_rate}")
        if self.n_fft < 64 or self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"{key}.n_fft: must be a power of two >= 64, got {self.n_fft}")
        if not 0 < self.hop_length <= self.n_fft:
            raise ConfigError(f"{key}.hop_length: must be in 1..n_fft, got {self.hop_length}")
        for name in ("n_mels", "n_mfcc", "segment_s", "segment_hop_s"):
            positive(key, name, getattr(self, name))
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"{key}.n_mfcc: must be <= n_mels ({self.n_mels})")
        if self.segment_frames < 8:
            raise ConfigError(f"{key}.segment_s: too short for hop_length {self.hop_length}")
        if self.workers < 0:
            raise ConfigError(f"{key}.workers: must be >= 0 (0 = all cores), got {self.workers}")
        if self.level_dbfs is not None and not -60.0 <= self.level_dbfs <= 0.0:
            raise ConfigError(f"{key}.level_dbfs: must be null or in -60..0, "
                              f"got {self.level_dbfs}")
        self._check_embedding(key)

    def _check_embedding(self, key: str) -> None:
        if self.embedding is None:
            return
        names = self.embedding_networks
        if not names or any(n not in components.EMBEDDINGS for n in names) \
                or len(set(names)) != len(names):
            raise ConfigError(f"{key}.embedding: must be null or networks of "
                              f"{' | '.join(components.EMBEDDINGS)} joined by '+', "
                              f"got {self.embedding!r}")
        widths = components.EMBEDDING_LAYERS.get(self.embedding_layer)
        if widths is None:
            raise ConfigError(f"{key}.embedding_layer: must be one of "
                              f"{' | '.join(components.EMBEDDING_LAYERS)}, "
                              f"got {self.embedding_layer!r}")
        missing = [n for n in names if components.architecture(n) not in widths]
        if missing:
            raise ConfigError(f"{key}.embedding_layer: {self.embedding_layer} does not exist "
                              f"in {', '.join(missing)}")
        # VGG's dense layers take exactly the 3-s patch it was trained on
        if any(components.architecture(n) == "vgg" for n in names) and self.segment_s != 3.0:
            raise ConfigError(f"{key}.segment_s: the VGG networks read 3-s segments, "
                              f"got {self.segment_s}")

    @property
    def embedding_networks(self) -> tuple[str, ...]:
        return tuple(self.embedding.split("+")) if self.embedding else ()

    @property
    def embedding_dim(self) -> int:
        return components.embedding_dim(self.embedding_networks, self.embedding_layer)

    @property
    def n_rows(self) -> int:
        """Feature rows of a segment: the sizes of the chosen components added up."""
        return sum(components.rows(c, self) for c in self.components)


@dataclass
class ProbabilityRange:
    p: float = 0.5
    low: float = 0.0
    high: float = 0.0

    def check(self, key: str) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"{key}.p: must be a probability in [0, 1], got {self.p}")
        if self.high < self.low:
            raise ConfigError(f"{key}.high: must be >= {key}.low")


@dataclass
class AugmentConfig:
    copies: int = 2  # augmented copies per training track (0: no augmentation)
    time_stretch: ProbabilityRange = field(
        default_factory=lambda: ProbabilityRange(0.5, 0.9, 1.1))  # rate
    pitch_shift: ProbabilityRange = field(
        default_factory=lambda: ProbabilityRange(0.5, -2.0, 2.0))  # semitones
    noise: ProbabilityRange = field(
        default_factory=lambda: ProbabilityRange(0.5, 15.0, 40.0))  # SNR in dB
    # off unless p > 0: what listeners' audio meets (robustness), for the training tracks
    low_pass: ProbabilityRange = field(
        default_factory=lambda: ProbabilityRange(0.0, 3400.0, 8000.0))  # cutoff in Hz
    mp3: ProbabilityRange = field(
        default_factory=lambda: ProbabilityRange(0.0, 32.0, 128.0))  # bit rate in kbit/s

    def check(self, key: str) -> None:
        if self.copies < 0:
            raise ConfigError(f"{key}.copies: must be >= 0, got {self.copies}")
        if self.time_stretch.low <= 0:
            raise ConfigError(f"{key}.time_stretch.low: a rate must be > 0")
        if self.low_pass.low < 100:
            raise ConfigError(f"{key}.low_pass.low: a cutoff of at least 100 Hz, "
                              f"got {self.low_pass.low}")
        if not 8 <= self.mp3.low <= self.mp3.high <= 320:
            raise ConfigError(f"{key}.mp3: bit rates within 8..320 kbit/s, got "
                              f"{self.mp3.low}..{self.mp3.high}")


@dataclass
class ClusterConfig:
    """Where per-track feature work runs: local processes, or a Dask cluster."""

    address: str | None = None  # a Dask scheduler, e.g. tcp://host:8786; null: local

    def check(self, key: str) -> None:
        if self.address is not None and "://" not in self.address:
            raise ConfigError(f"{key}.address: a scheduler address like tcp://host:8786, "
                              f"or null, got {self.address!r}")
