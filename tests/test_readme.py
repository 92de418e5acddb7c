"""README's commands work as written in a fresh shell, where the venv is not on PATH."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.dvc_repo import update_params
from helpers.paths import ROOT

README = (ROOT / "README.md").read_text()
# DVC subcommands that run stages, whose `python` must be the venv's
RUNS_STAGES = re.compile(r"\bdvc\s+(repro|exp\s+run|queue\s+start)\b")


def shell_lines() -> list[str]:
    """Command lines of README's ```bash blocks (continuations joined, comments cut)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def test_readme_shows_the_two_setup_commands():
    lines = shell_lines()
    assert any(line.startswith("make setup repro") for line in lines)
    assert "make test" in lines


def test_commands_that_run_stages_go_through_make():
    bare = [line for line in shell_lines()
            if RUNS_STAGES.search(line) and not line.startswith("make ")]
    assert not bare, f"these would run stages with the system python: {bare}"


def test_every_cli_option_readme_shows_exists():
    cli = Path(sys.executable).parent / "musicgenre"
    for line in shell_lines():
        if not line.startswith(".venv/bin/musicgenre "):
            continue
        command = line.split()[1]
        asked = ["--help"] if command.startswith("-") else [command, "--help"]  # --version
        help_text = subprocess.run([str(cli), *asked], capture_output=True,
                                   text=True, env={**os.environ, "COLUMNS": "200"}).stdout
        for option in re.findall(r"(--[a-z][a-z-]*)", line):
            assert option in help_text, f"{line}: `musicgenre {command}` has no {option}"


@pytest.mark.slow
def test_make_dvc_runs_stages_without_the_venv_on_path(project_copy, tmp_path):  # noqa: F811
    """`make dvc ARGS=...` from a shell whose PATH has no venv: the stages still import
    musicgenre, because make puts the venv first."""
    shutil.copy2(ROOT / "Makefile", project_copy / "Makefile")
    venv = Path(sys.prefix)
    update_params(project_copy, {"data.source": "synthetic", "data.synthetic.tracks_per_genre": 3,
                                 "data.synthetic.duration_s": 6.0})
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin",
           "GX_ANALYTICS_ENABLED": "false", "DVC_NO_ANALYTICS": "1"}
    # -o: treat the (shared) venv as installed; VENV points at it instead of a fresh copy
    proc = subprocess.run(["make", "-o", f"{venv}/.installed", f"VENV={venv}", "dvc",
                           "ARGS=repro split"], cwd=project_copy, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Running stage 'split'" in proc.stdout
    assert (project_copy / "data/interim/split.csv").exists()
