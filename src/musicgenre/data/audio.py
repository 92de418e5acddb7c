"""Reading audio: one place that knows formats, channels and resampling."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicgenre.core.errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3")
SILENCE_DBFS = -60.0  # below this RMS a file holds no music to classify
# Classifying a long file (a DJ mix, an hour-long recording) reads at most this much audio:
# EXCERPTS excerpts of EXCERPT_S seconds spread evenly over it, so memory and time stay
# bounded whatever the length (an hour of 44.1 kHz stereo would be 1.3 GB as float32).
MAX_WHOLE_S = 600.0
EXCERPTS = 20
EXCERPT_S = 30.0


IGNORED_DIRS = {"__MACOSX"}  # resource forks macOS puts into zip archives


def is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def find_audio(root: Path) -> list[Path]:
    """Every audio file under `root` at any depth, sorted; hidden files and folders and
    __MACOSX are skipped. The one place that decides what counts as an audio file."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS and not d.startswith(".")]
        files += [Path(dirpath) / f for f in filenames if is_audio_name(Path(f))]
    return sorted(files)


def find_labelled_audio(root: Path) -> tuple[list[Path], list[str]]:
    """The `<genre>/<file>` audio files under `root` (the genre is the folder's name), and a
    line for every other file there saying why it is not one (nothing is silently ignored)."""
    root = Path(root)
    labelled, others = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts = path.relative_to(root).parts
        if any(part.startswith(".") or part in IGNORED_DIRS for part in parts):
            continue
        if len(parts) == 2 and is_audio_name(path):
            labelled.append(path)
            continue
        reason = ("not an audio file name (.wav .au .flac .ogg .mp3)" if len(parts) == 2 else
                  "outside a <genre>/ folder" if len(parts) == 1 else "in a folder below <genre>/")
        others.append(f"{path}: {reason}")
    return labelled, others


@dataclass(frozen=True)
class AudioInfo:
    format: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _refuse_empty(path: Path) -> None:
    """libsndfile only says 'format not recognised' for a zero-byte file; say what it is."""
    if Path(path).exists() and Path(path).stat().st_size == 0:
        raise AudioError(f"{path}: empty file")


def read_info(path: Path) -> AudioInfo:
    _refuse_empty(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_clean(exc)})") from None
    return AudioInfo(info.format, int(info.samplerate), int(info.channels), int(info.frames))


def load_audio(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode `path` to mono float32; resample to `sample_rate` when given."""
    path = Path(path)
    _refuse_empty(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_clean(exc)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    # NaN/Inf (float WAVs can hold them) would poison every feature downstream: refused
    mono = _to_mono(path, data, sr, sample_rate)
    return mono, int(sample_rate if sample_rate is not None else sr)


def load_excerpts(path: Path, sample_rate: int) -> list[np.ndarray]:
    """The whole file, or for files longer than MAX_WHOLE_S, EXCERPTS evenly spaced excerpts
    of EXCERPT_S seconds each (mono float32 at `sample_rate`), read without decoding the rest."""
    info = read_info(path)
    if info.duration_s <= MAX_WHOLE_S:
        return [load_audio(path, sample_rate)[0]]
    span = int(EXCERPT_S * info.sample_rate)
    starts = np.linspace(0, info.frames - span, EXCERPTS).astype(int)
    excerpts = []
    try:
        with sf.SoundFile(str(path)) as fh:
            for start in starts:
                fh.seek(int(start))
                data = fh.read(span, dtype="float32", always_2d=True)
                excerpts.append(_to_mono(path, data, info.sample_rate, sample_rate))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_clean(exc)})") from None
    return excerpts


def _to_mono(path: Path, data: np.ndarray, sr: int, sample_rate: int | None) -> np.ndarray:
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise AudioError(f"{path}: {bad} sample(s) are NaN or infinite")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sample_rate is not None and sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _clean(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    # libsndfile repeats the path in its message; the caller already names the file.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    return text or type(exc).__name__


def rms_dbfs(audio: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-200 for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    return 20 * float(np.log10(max(rms, 1e-10)))
