"""Running the `dvc` command (beside this Python's executable, or on PATH) from the library."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from musicgenre.core.errors import MusicGenreError


def run_dvc(*args: str, cwd: Path) -> str:
    exe = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        message = " ".join(proc.stderr.split()) or f"exit code {proc.returncode}"
        raise MusicGenreError(f"dvc {' '.join(args)} failed: {message}")
    return proc.stdout.strip()
