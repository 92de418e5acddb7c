"""Pull-request report: `dvc metrics diff` and `dvc params diff` against a base revision,
as one markdown document (the CI workflow posts it as a PR comment; `make pr-report`
writes the same file locally)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from musicgenre.errors import MusicGenreError


def _dvc(*args: str, cwd: Path) -> str:
    exe = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        message = " ".join(proc.stderr.split()) or f"exit code {proc.returncode}"
        raise MusicGenreError(f"dvc {' '.join(args)} failed: {message}")
    return proc.stdout.strip()


def pr_report(base: str, repo: Path = Path(".")) -> str:
    """Markdown with every headline metric (old, new, change) and every changed param."""
    metrics = _dvc("metrics", "diff", base, "--all", "--md", cwd=repo)
    params = _dvc("params", "diff", base, "--md", cwd=repo)
    return "\n".join([
        f"## Metrics: `{base}` vs this branch", "",
        metrics or "No metrics found (has `dvc repro` been run?).", "",
        f"## Params changed since `{base}`", "",
        params or "No parameter changed.", "",
        "Track-level test metrics of the headline model (`reports/metrics.json`); "
        "the full comparison is in `reports/report.md`.", ""])
