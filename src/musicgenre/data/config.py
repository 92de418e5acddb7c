"""The params of the data stages: `data` (download), `validate` and `split`.

The schema (musicgenre.config) assembles these with the other packages' sections.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

from musicgenre.core.errors import ConfigError
from musicgenre.core.parsing import is_hex, positive
from musicgenre.data import sources
from musicgenre.data.sources import RemoteFile  # noqa: F401 - the params' file type


def _registry(entry):
    """A field default: a fresh copy of the source registry's entry (data/sources.py)."""
    return field(default_factory=lambda: copy.deepcopy(entry))


@dataclass
class SyntheticConfig:
    tracks_per_genre: int = 20
    duration_s: float = 12.0
    sample_rate: int = 22050

    def check(self, key: str) -> None:
        positive(key, "tracks_per_genre", self.tracks_per_genre)
        positive(key, "duration_s", self.duration_s)
        if not 8000 <= self.sample_rate <= 96000:
            raise ConfigError(f"{key}.sample_rate: must be in 8000..96000, got {self.sample_rate}")


@dataclass
class DownloadConfig:
    retries: int = 4
    backoff_s: float = 2.0
    timeout_s: float = 60.0
    cache_dir: str = "data/external"

    def retry_policy(self) -> dict:
        """The keyword arguments `fetch.fetch` retries and times out with."""
        return {"retries": self.retries, "backoff_s": self.backoff_s,
                "timeout_s": self.timeout_s}

    def check(self, key: str) -> None:
        if self.retries < 0:
            raise ConfigError(f"{key}.retries: must be >= 0, got {self.retries}")
        positive(key, "timeout_s", self.timeout_s)
        if self.backoff_s < 0:
            raise ConfigError(f"{key}.backoff_s: must be >= 0, got {self.backoff_s}")


@dataclass
class ArtistsConfig:
    """Where the artist of each track comes from (artist-grouped splits need it)."""

    gtzan_index: RemoteFile | None = _registry(sources.GTZAN_INDEX)  # Sturm's index, for
    # tracks with GTZAN names; null: use no index
    tags: bool = True  # read the artist tag of the user's own files

    def check(self, key: str) -> None:
        if self.gtzan_index is not None:
            self.gtzan_index.check(f"{key}.gtzan_index")


@dataclass
class FmaConfig:
    """The Free Music Archive dataset (Defferrard et al., ISMIR 2017): metadata archive plus
    one audio archive per subset, as the FMA project publishes them (SHA-1 checked)."""

    subset: Literal["small", "medium", "large"] = "small"
    metadata: RemoteFile = _registry(sources.FMA_METADATA)
    small: RemoteFile = _registry(sources.FMA_AUDIO["small"])
    medium: RemoteFile = _registry(sources.FMA_AUDIO["medium"])
    large: RemoteFile = _registry(sources.FMA_AUDIO["large"])

    @property
    def audio(self) -> RemoteFile:
        return getattr(self, self.subset)

    def check(self, key: str) -> None:
        for name in ("metadata", self.subset):
            getattr(self, name).check(f"{key}.{name}")


@dataclass
class DataConfig:
    source: Literal["gtzan", "gtzan-mini", "fma", "folder", "synthetic"] = "gtzan"
    path: str | None = None
    # where each source comes from (data/sources.py); an entry here replaces the registry's
    gtzan: RemoteFile = _registry(sources.GTZAN)
    gtzan_mini: RemoteFile = _registry(sources.GTZAN_MINI)
    fma: FmaConfig = field(default_factory=FmaConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    artists: ArtistsConfig = field(default_factory=ArtistsConfig)

    def check(self, key: str) -> None:
        if self.source == "folder" and not self.path:
            raise ConfigError(f"{key}.path: required when {key}.source is 'folder'")
        self.gtzan.check(f"{key}.gtzan")
        self.gtzan_mini.check(f"{key}.gtzan_mini")
        if self.source == "fma":
            self.fma.check(f"{key}.fma")


# The shortest audio anything here classifies: predict, evaluate, the robustness stage and
# the pipeline's own tracks (validate.min_duration_s may only raise it). A clip shorter than
# one segment is repeated to fill it (features.short_track); below a second there is too
# little music to repeat.
MIN_AUDIO_S = 1.0


@dataclass
class ValidateConfig:
    policy: Literal["drop", "fail"] = "drop"
    min_duration_s: float = MIN_AUDIO_S
    max_duration_s: float = 900.0
    min_sample_rate: int = 8000
    max_sample_rate: int = 192000
    min_tracks_per_genre: int = 2
    silence_dbfs: float = -60.0
    workers: int = 0  # processes decoding files; 0: one per CPU core

    def check(self, key: str) -> None:
        if not self.min_duration_s >= MIN_AUDIO_S:
            raise ConfigError(f"{key}.min_duration_s: must be >= {MIN_AUDIO_S:g} (the shortest "
                              f"audio predict classifies), got {self.min_duration_s}")
        if self.workers < 0:
            raise ConfigError(f"{key}.workers: must be >= 0, got {self.workers}")
        if self.max_duration_s <= self.min_duration_s:
            raise ConfigError(f"{key}.max_duration_s: must exceed min_duration_s")
        if self.max_sample_rate < self.min_sample_rate:
            raise ConfigError(f"{key}.max_sample_rate: must be >= min_sample_rate")
        positive(key, "min_tracks_per_genre", self.min_tracks_per_genre)
        if self.silence_dbfs >= 0:
            raise ConfigError(f"{key}.silence_dbfs: must be negative, got {self.silence_dbfs}")


@dataclass
class FaultFilteredConfig:
    base_urls: list[str] = _registry(sources.FAULT_FILTERED_BASE_URLS)
    sha256: dict[str, str] = _registry(sources.FAULT_FILTERED_SHA256)

    def check(self, key: str) -> None:
        expected = {"train_filtered.txt", "valid_filtered.txt", "test_filtered.txt"}
        if set(self.sha256) != expected:
            raise ConfigError(f"{key}.sha256: needs exactly the keys {sorted(expected)}")
        for name, digest in self.sha256.items():
            if len(digest) != 64 or not is_hex(digest):
                raise ConfigError(f"{key}.sha256.{name}: expected 64 hex digits")


@dataclass
class SplitConfig:
    # official: the source's own split (FMA's, artist-filtered by construction)
    method: Literal["stratified", "fault-filtered", "official"] = "stratified"
    group_by: Literal["artist", "track"] = "artist"  # artist: no artist in two splits
    train: float = 0.70
    val: float = 0.15
    test: float = 0.15
    fault_filtered: FaultFilteredConfig = field(default_factory=FaultFilteredConfig)

    def check(self, key: str) -> None:
        for name in ("train", "val", "test"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key}.{name}: must be within [0, 1], got {value}")
        if self.train <= 0 or self.val <= 0:
            raise ConfigError(f"{key}.train and {key}.val: must be > 0 (test may be 0)")
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(
                f"{key}.train + {key}.val + {key}.test: must sum to 1, got {total:.6g}"
            )
        self.fault_filtered.check(f"{key}.fault_filtered")
