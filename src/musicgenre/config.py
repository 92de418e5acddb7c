"""The params.yaml schema: typed, validated parameters.

`params.yaml` is parsed (by musicgenre.parsing) into the dataclasses below. Every stage
loads only the sections it declares in `dvc.yaml`, so an unrelated change never reruns it.
Any unknown key, wrong type or out-of-range value raises `ConfigError` with the dotted key in
the message. Each model's own section is typed by the config class of its spec
(musicgenre.models).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from musicgenre import models
from musicgenre.errors import ConfigError
from musicgenre.features import components
from musicgenre.parsing import parse

AUTO = "auto"  # genres: auto, the data source's own genres (musicgenre.genres)
GTZAN_GENRES = [
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
]  # fmt: skip


# --------------------------------------------------------------------------- data
@dataclass
class RemoteFile:
    """A file fetched from the first working mirror and verified before use."""

    urls: list[str]
    filename: str
    sha256: str | None = None
    sha1: str | None = None  # where the publisher gives only SHA-1 (FMA)
    md5: str | None = None
    bytes: int | None = None

    def check(self, key: str) -> None:
        if not self.urls:
            raise ConfigError(f"{key}.urls: give at least one URL")
        if not (self.sha256 or self.sha1 or self.md5):
            raise ConfigError(f"{key}: give sha256, sha1 or md5 so the download can be verified")
        for name, n in (("sha256", 64), ("sha1", 40), ("md5", 32)):
            value = getattr(self, name)
            if value is not None and (len(value) != n or not _is_hex(value)):
                raise ConfigError(f"{key}.{name}: expected {n} hex digits, got {value!r}")

    def checks(self) -> dict:
        """The keyword arguments `fetch.verify` and `fetch.fetch` check a copy with."""
        return {"sha256": self.sha256, "sha1": self.sha1, "md5": self.md5,
                "expected_bytes": self.bytes}


@dataclass
class SyntheticConfig:
    tracks_per_genre: int = 20
    duration_s: float = 12.0
    sample_rate: int = 22050

    def check(self, key: str) -> None:
        _positive(key, "tracks_per_genre", self.tracks_per_genre)
        _positive(key, "duration_s", self.duration_s)
        if not 8000 <= self.sample_rate <= 96000:
            raise ConfigError(f"{key}.sample_rate: must be in 8000..96000, got {self.sample_rate}")


@dataclass
class DownloadConfig:
    retries: int = 4
    backoff_s: float = 2.0
    timeout_s: float = 60.0
    cache_dir: str = "data/external"

    def check(self, key: str) -> None:
        if self.retries < 0:
            raise ConfigError(f"{key}.retries: must be >= 0, got {self.retries}")
        _positive(key, "timeout_s", self.timeout_s)
        if self.backoff_s < 0:
            raise ConfigError(f"{key}.backoff_s: must be >= 0, got {self.backoff_s}")


@dataclass
class ArtistsConfig:
    """Where the artist of each track comes from (artist-grouped splits need it)."""

    gtzan_index: RemoteFile | None = None  # Sturm's index, for tracks with GTZAN names
    tags: bool = True  # read the artist tag of the user's own files

    def check(self, key: str) -> None:
        if self.gtzan_index is not None:
            self.gtzan_index.check(f"{key}.gtzan_index")


def _no_file() -> RemoteFile:
    return RemoteFile(urls=[], filename="")


@dataclass
class FmaConfig:
    """The Free Music Archive dataset (Defferrard et al., ISMIR 2017): metadata archive plus
    one audio archive per subset, as the FMA project publishes them (SHA-1 checked)."""

    subset: Literal["small", "medium", "large"] = "small"
    metadata: RemoteFile = field(default_factory=_no_file)
    small: RemoteFile = field(default_factory=_no_file)
    medium: RemoteFile = field(default_factory=_no_file)
    large: RemoteFile = field(default_factory=_no_file)

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
    gtzan: RemoteFile = field(default_factory=_no_file)
    gtzan_mini: RemoteFile = field(default_factory=_no_file)
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


# --------------------------------------------------------------------------- validate
@dataclass
class ValidateConfig:
    policy: Literal["drop", "fail"] = "drop"
    min_duration_s: float = 5.0
    max_duration_s: float = 900.0
    min_sample_rate: int = 8000
    max_sample_rate: int = 192000
    min_tracks_per_genre: int = 2
    silence_dbfs: float = -60.0
    workers: int = 0  # processes decoding files; 0: one per CPU core

    def check(self, key: str) -> None:
        _positive(key, "min_duration_s", self.min_duration_s)
        if self.workers < 0:
            raise ConfigError(f"{key}.workers: must be >= 0, got {self.workers}")
        if self.max_duration_s <= self.min_duration_s:
            raise ConfigError(f"{key}.max_duration_s: must exceed min_duration_s")
        if self.max_sample_rate < self.min_sample_rate:
            raise ConfigError(f"{key}.max_sample_rate: must be >= min_sample_rate")
        _positive(key, "min_tracks_per_genre", self.min_tracks_per_genre)
        if self.silence_dbfs >= 0:
            raise ConfigError(f"{key}.silence_dbfs: must be negative, got {self.silence_dbfs}")


# --------------------------------------------------------------------------- split
@dataclass
class FaultFilteredConfig:
    base_urls: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)

    def check(self, key: str) -> None:
        expected = {"train_filtered.txt", "valid_filtered.txt", "test_filtered.txt"}
        if set(self.sha256) != expected:
            raise ConfigError(f"{key}.sha256: needs exactly the keys {sorted(expected)}")
        for name, digest in self.sha256.items():
            if len(digest) != 64 or not _is_hex(digest):
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


# --------------------------------------------------------------------------- features
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
    short_track: Literal["pad", "drop"] = "pad"
    workers: int = 0  # 0: one per CPU core
    embedding: str | None = None  # also store each segment's pretrained embedding
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
            _positive(key, name, getattr(self, name))
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"{key}.n_mfcc: must be <= n_mels ({self.n_mels})")
        if self.segment_frames < 8:
            raise ConfigError(f"{key}.segment_s: too short for hop_length {self.hop_length}")
        if self.workers < 0:
            raise ConfigError(f"{key}.workers: must be >= 0 (0 = all cores), got {self.workers}")
        if self.embedding is not None and self.embedding not in components.EMBEDDINGS:
            raise ConfigError(f"{key}.embedding: must be null or one of "
                              f"{' | '.join(components.EMBEDDINGS)}, got {self.embedding!r}")

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

    def check(self, key: str) -> None:
        if self.copies < 0:
            raise ConfigError(f"{key}.copies: must be >= 0, got {self.copies}")
        if self.time_stretch.low <= 0:
            raise ConfigError(f"{key}.time_stretch.low: a rate must be > 0")


# --------------------------------------------------------------------------- training
@dataclass
class SpecAugmentConfig:
    """SpecAugment-style masking of training segments (after normalisation, masked = 0)."""

    freq_masks: int = 2
    freq_width: int = 16  # at most this many feature rows per mask
    time_masks: int = 2
    time_width: int = 24  # at most this many frames per mask

    def check(self, key: str) -> None:
        for name in ("freq_masks", "freq_width", "time_masks", "time_width"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must be >= 0")


@dataclass
class TrainConfig:
    epochs: int = 60
    crops_per_track: int = 1  # random segments per training track and version each epoch
    min_epoch_crops: int = 1024  # more crops per version when an epoch would have fewer
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10  # epochs without a lower validation loss before stopping
    min_delta: float = 0.005  # a validation loss must drop by more than this to count
    stop_val_loss: float = 0.2  # stop once every validation track is right and loss <= this
    min_epochs: int = 10  # no stopping and no best-epoch pick before this epoch
    ema_epochs: float = 2.0  # weights averaged over about this many epochs; 0: no averaging
    mixup_alpha: float = 0.2  # 0: no mixup
    label_smoothing: float = 0.0
    # balanced: weigh each genre's loss by 1 / its share of training tracks (unbalanced data)
    class_weight: Literal["none", "balanced"] = "none"
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    threads: int = 0  # torch CPU threads; 0: torch's default
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    devices: int = 1  # data-parallel processes per machine (GPUs, or CPU processes)
    num_nodes: int = 1  # machines; more than one needs torchrun or SLURM to start them

    def check(self, key: str) -> None:
        for name in ("epochs", "batch_size", "lr", "patience"):
            _positive(key, name, getattr(self, name))
        if min(self.weight_decay, self.mixup_alpha, self.threads, self.ema_epochs,
               self.min_epochs, self.crops_per_track, self.min_delta,
               self.min_epoch_crops, self.stop_val_loss) < 0:
            raise ConfigError(f"{key}: weight_decay, mixup_alpha, ema_epochs, min_epochs, "
                              "crops_per_track, min_epoch_crops, min_delta, stop_val_loss and "
                              "threads must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"{key}.label_smoothing: must be in [0, 1)")
        if self.devices < 1 or self.num_nodes < 1:
            raise ConfigError(f"{key}.devices and {key}.num_nodes: must be >= 1")
        if self.precision == "16-mixed" and self.device == "cpu":
            raise ConfigError(f"{key}.precision: 16-mixed needs a GPU; use 32-true or "
                              "bf16-mixed on the CPU")


@dataclass
class ClusterConfig:
    """Where per-track feature work runs: local processes, or a Dask cluster."""

    address: str | None = None  # a Dask scheduler, e.g. tcp://host:8786; null: local

    def check(self, key: str) -> None:
        if self.address is not None and "://" not in self.address:
            raise ConfigError(f"{key}.address: a scheduler address like tcp://host:8786, "
                              f"or null, got {self.address!r}")


@dataclass
class RobustnessConfig:
    snr_db: list[float] = field(default_factory=lambda: [30.0, 20.0, 10.0])
    pitch_semitones: list[float] = field(default_factory=lambda: [-2.0, 2.0])


# --------------------------------------------------------------------------- loading
# Besides these, one section per registered model, typed by the config dataclass of its
# spec (musicgenre.models).
SECTIONS: dict[str, Any] = {
    "seed": int,
    "model": str,
    "models": list[str],
    "train": TrainConfig,
    "robustness": RobustnessConfig,
    "genres": list[str],  # or the string "auto" (musicgenre.genres)
    "data": DataConfig,
    "validate": ValidateConfig,
    "split": SplitConfig,
    "features": FeaturesConfig,
    "augment": AugmentConfig,
    "cluster": ClusterConfig,
}


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: parameters file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_one_line(exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    unknown = sorted(set(raw) - set(SECTIONS) - set(models.names()))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown top-level key in {path}")
    return raw


def load_section(name: str, raw: dict[str, Any] | None = None, path: str | Path = "params.yaml"):
    """Parse and check one top-level section of params.yaml."""
    raw = read_params(path) if raw is None else raw
    if name in SECTIONS:
        section_type = SECTIONS[name]
    elif name in models.names():
        section_type = models.get(name).config  # imports the model's module
    else:
        raise ConfigError(f"{name}: no such parameter section")
    if name not in raw:
        raise ConfigError(f"{name}: missing from {path}")
    if name == "genres" and raw[name] == AUTO:
        return AUTO
    value = parse(section_type, raw[name], name)
    named = {"model": [value], "models": value}.get(name, [])
    for i, model in enumerate(named):
        if model not in models.names():
            where = name if name == "model" else f"models[{i}]"
            raise ConfigError(f"{where}: must be one of {' | '.join(models.names())}, "
                              f"got {model!r}")
    if name == "models" and (not value or len(set(value)) != len(value)):
        raise ConfigError("models: list each model to train once, at least one")
    if name == "genres":
        if len(value) < 2 or len(set(value)) != len(value):
            raise ConfigError("genres: need at least two distinct genre names, or auto")
    return value


def load_params(*names: str, path: str | Path = "params.yaml") -> dict[str, Any]:
    """Parse the named sections (the ones a stage declares in dvc.yaml)."""
    raw = read_params(path)
    params = {name: load_section(name, raw, path) for name in names}
    if "model" in params and "models" in params and params["model"] not in params["models"]:
        raise ConfigError(f"model: '{params['model']}' must also be listed in models "
                          f"({', '.join(params['models'])}) so that it is trained")
    return params


def _positive(key: str, name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key}.{name}: must be > 0, got {value}")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
