"""The `musicgenre` command run in this process (typer's test runner), as a subprocess would
report it: return code, stdout and stderr. Much faster than starting the installed script
(no interpreter start, no imports per call); the few tests that must prove the installed
entry point start it for real (tests/test_cli.py)."""

from __future__ import annotations

import subprocess
from contextlib import chdir
from pathlib import Path


def invoke(*args, cwd: Path) -> subprocess.CompletedProcess:
    """`musicgenre ARGS` in `cwd`; an exception the command did not turn into an exit code
    is raised here, traceback and all (a test must see it, not a return code of 1)."""
    from typer.testing import CliRunner

    from musicgenre.cli import app

    argv = [str(a) for a in args]
    with chdir(cwd):
        result = CliRunner().invoke(app, argv, catch_exceptions=False)
    return subprocess.CompletedProcess(["musicgenre", *argv], result.exit_code, result.stdout,
                                       result.stderr)
