"""Shared fixtures: real GTZAN audio, synthetic audio, a local HTTP server, a temp DVC repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def real_data_root() -> Path | None:
    for candidate in (os.environ.get("GENRE_REAL_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "gtzan-dev" / "genres").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_data() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip("real GTZAN dev audio not found at ../shared/data or $GENRE_REAL_DATA")
    return root


@pytest.fixture(scope="session")
def real_genres_dir(real_data) -> Path:
    return real_data / "gtzan-dev" / "genres"


@pytest.fixture(scope="session")
def synthetic_genres_dir(tmp_path_factory) -> Path:
    """A small synthetic dataset in GTZAN layout (shared, read-only by convention)."""
    from musicgenre.config import GTZAN_GENRES
    from musicgenre.synthetic import generate_dataset

    out = tmp_path_factory.mktemp("synthetic") / "genres"
    generate_dataset(out, GTZAN_GENRES, tracks_per_genre=3, duration_s=6.0, sample_rate=22050,
                     seed=7, progress=False)
    return out


# --------------------------------------------------------------------------- HTTP server
class FileServer:
    """A tiny HTTP server on 127.0.0.1 with Range support and scripted failures.

    `routes[path] = bytes`; `cut_once` holds paths whose first full GET is cut half way;
    `missing` holds paths answered with 404. `requests` logs (path, Range header).
    """

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.missing: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                if self.path in server.missing or self.path not in server.routes:
                    self.send_error(404)
                    return
                body = server.routes[self.path]
                start = 0
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                payload = body[start:]
                if self.path in server.cut_once and start == 0:
                    server.cut_once.discard(self.path)
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # cut the connection mid-transfer
                    return
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def http_server():
    server = FileServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# --------------------------------------------------------------------------- temp DVC repo
PROJECT_FILES = ["dvc.yaml", "params.yaml", ".dvcignore", "stages", "src", ".dvc/config",
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


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(Path(sys.executable).parent / "dvc"), *args], cwd, check=check)


def update_params(repo: Path, changes: dict[str, object]) -> None:
    """Set dotted keys in the repo's params.yaml (like `dvc exp run -S`)."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node = params
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A git + DVC repo holding a copy of the project's pipeline files."""
    repo = tmp_path / "repo"
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
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], repo)
    return repo


# --------------------------------------------------------------------------- trained models
SMALL_MODELS = {
    "cnn": {"channels": [8, 16, 32, 32], "dense": 32},
    "rnn": {"hidden": 32, "layers": 1},
    "crnn": {"channels": [8, 16, 32, 32], "rnn_hidden": 16},
}


def small_model_cfg(name):
    from dataclasses import replace

    from musicgenre.models import NEURAL

    return replace(NEURAL[name][0](), **SMALL_MODELS[name])


def _fast_train():
    from musicgenre.config import TrainConfig

    # 4 random crops per track version and epoch: ~20 steps an epoch on this data
    return TrainConfig(epochs=25, crops_per_track=4, min_epoch_crops=0, batch_size=32,
                       patience=5, min_epochs=5)


FAST_TRAIN = _fast_train()


@pytest.fixture(scope="session")
def synthetic_features(tmp_path_factory):
    """120 synthetic tracks (12 per genre, 8 s) -> small log-mel features and MusiCNN
    embeddings, one augmented copy."""
    from musicgenre.config import GTZAN_GENRES, AugmentConfig, FeaturesConfig, SplitConfig
    from musicgenre.features import extract_features
    from musicgenre.split import make_split
    from musicgenre.synthetic import generate_dataset
    from musicgenre.validate import scan_folder

    root = tmp_path_factory.mktemp("synthetic_train")
    generate_dataset(root / "genres", GTZAN_GENRES, 12, 8.0, 22050, seed=11, progress=False)
    manifest = scan_folder(root / "genres", progress=False)
    split, _ = make_split(manifest, SplitConfig(), seed=11)
    extract_features(manifest, split, GTZAN_GENRES,
                     FeaturesConfig(n_mels=64, segment_s=2.0, segment_hop_s=1.0,
                                    embedding="MSD_musicnn"),
                     AugmentConfig(copies=1), 11, root / "features", progress=False)
    return root / "features"


@pytest.fixture(scope="session")
def trained(synthetic_features, tmp_path_factory):
    """The CRNN, the baseline and the transfer model trained on the synthetic features
    (shared by several tests)."""
    from musicgenre.models.baseline import BaselineConfig
    from musicgenre.models.transfer import TransferConfig
    from musicgenre.train import TrainingData, train_baseline, train_neural, train_transfer

    out = tmp_path_factory.mktemp("trained")
    data = TrainingData.from_features_dir(synthetic_features)
    embedded = TrainingData.from_features_dir(synthetic_features, embeddings=True)
    summaries = {"crnn": train_neural("crnn", small_model_cfg("crnn"), FAST_TRAIN, 5, data,
                                      out / "crnn", out / "live_crnn", progress=False),
                 "baseline": train_baseline(BaselineConfig(), 5, data, out / "baseline",
                                            out / "live_baseline"),
                 "transfer": train_transfer(TransferConfig(), 5, embedded, out / "transfer",
                                            out / "live_transfer")}
    return out, summaries
