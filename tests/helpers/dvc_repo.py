"""A temporary git + DVC copy of the project, and running commands in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from helpers.paths import ROOT

PROJECT_FILES = ["dvc.yaml", "params.yaml", ".dvcignore", "stages", "src", ".dvc/config",
                 ".dvc/plots",
                 ".dvc/.gitignore", ".gitignore"]


def run(cmd: list[str], cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}")
    return proc


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """git with a throwaway identity, for commits in temporary repos."""
    return run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd)


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(Path(sys.executable).parent / "dvc"), *args], cwd, check=check)


def set_dotted(params: dict, changes: dict[str, object]) -> dict:
    """Set dotted keys (`train.epochs`) in a nested params mapping, in place; returns it."""
    for dotted, value in changes.items():
        node = params
        *parents, leaf = dotted.split(".")
        for key in parents:  # a section with its defaults in the code may be absent
            node = node.setdefault(key, {})
        node[leaf] = value
    return params


def update_params(repo: Path, changes: dict[str, object]) -> None:
    """Set dotted keys in the repo's params.yaml (like `dvc exp run -S`)."""
    path = repo / "params.yaml"
    params = set_dotted(yaml.safe_load(path.read_text()), changes)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_project_copy(repo: Path) -> Path:
    """A git + DVC repo at `repo` holding a copy of the project's pipeline files."""
    repo.mkdir()
    for name in PROJECT_FILES:
        src = ROOT / name
        dest = repo / name
        if src.is_dir():
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    run(["git", "init", "-q"], repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "init", cwd=repo)
    return repo


# Shrunk configs (the lightning-hydra-template way): every stage runs, in seconds.
TINY = {
    "data.source": "synthetic", "data.synthetic.tracks_per_genre": 4,
    "data.synthetic.duration_s": 6.0, "augment.copies": 1,
    "features.n_mels": 32, "features.n_mfcc": 13, "features.segment_s": 2.0,
    "features.segment_hop_s": 2.0, "features.embedding": "MSD_musicnn",  # one network: faster
    "train.epochs": 2, "train.batch_size": 16, "train.patience": 2,
    "cnn.channels": [4, 8], "cnn.dense": 16, "rnn.hidden": 16, "rnn.layers": 1,
    "crnn.channels": [4, 8], "crnn.time_pool": [2, 2], "crnn.rnn_hidden": 8,
    "robustness.snr_db": [20], "robustness.pitch_semitones": [2],
    "robustness.tempo_percent": [], "robustness.mp3_kbps": [64], "robustness.reverb_room": [],
    "robustness.telephone": False, "robustness.resample_hz": [], "robustness.gain_db": [-20],
}
