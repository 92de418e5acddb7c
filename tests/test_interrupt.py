"""Ctrl-C stops a running stage within seconds, pool workers included, nothing half-written."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.dvc_repo import dvc, update_params


def _group(pgid: int) -> list[str]:
    out = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout
    return out.split()


@pytest.mark.slow
def test_ctrl_c_stops_dvc_repro_features_and_its_workers(project_copy):
    update_params(project_copy, {"data.source": "synthetic",
                                 "data.synthetic.tracks_per_genre": 10, "features.workers": 2,
                                 "features.embedding": None})
    dvc("repro", "split", cwd=project_copy)
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # its own session: a process group to signal like a terminal does on Ctrl-C
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dvc"), "repro", "features"],
                            cwd=project_copy, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    started = project_copy / "data/.features.tmp/train.npy.tmp"
    deadline = time.monotonic() + 180
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert started.exists(), "the features stage never started writing"
    time.sleep(2)  # workers busy with tracks
    pgid = os.getpgid(proc.pid)
    assert len(_group(pgid)) >= 3  # dvc, the stage, its workers
    os.killpg(pgid, signal.SIGINT)
    time.sleep(0.3)
    os.killpg(pgid, signal.SIGINT)  # a second Ctrl-C, as impatient people press
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        left = _group(pgid)
        if left:
            os.killpg(pgid, signal.SIGKILL)
    assert not left, f"still running after Ctrl-C: {left}"
    assert proc.returncode != 0
    text = out.decode(errors="replace")
    assert "features: interrupted" in text and "Traceback" not in text
    data = project_copy / "data"
    assert not (data / "features").exists() and not (data / ".features.tmp").exists()
    # and a rerun completes as if nothing had happened
    again = dvc("repro", "features", cwd=project_copy)
    assert "Running stage 'features'" in again.stdout
    assert (data / "features/meta.json").exists()
