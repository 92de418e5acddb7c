"""Fixtures: real GTZAN audio, synthetic audio and features, a local HTTP server, a temporary
DVC repo, trained models. Helper functions and classes live in tests/helpers/."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= (os.cpu_count() or 1):
    # As many test processes as cores (make test): each one, and the stages it starts, runs
    # its math on one thread, so the cores are shared, not fought over by 2 x 2 threads.
    # Set before torch or numpy is first imported, so that their thread pools see it.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

from helpers.dvc_repo import make_project_copy  # noqa: E402
from helpers.http_server import FileServer  # noqa: E402
from helpers.paths import real_data_root  # noqa: E402
from helpers.training import FAST_TRAIN, fit  # noqa: E402


@pytest.fixture(scope="session")
def real_data() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip("real GTZAN dev audio not found: set GENRE_REAL_DATA (default data/real)")
    return root


@pytest.fixture(scope="session")
def real_genres_dir(real_data) -> Path:
    return real_data / "gtzan-dev" / "genres"


@pytest.fixture(scope="session")
def synthetic_genres_dir(tmp_path_factory) -> Path:
    """A small synthetic dataset in GTZAN layout (shared, read-only by convention)."""
    from musicgenre.data.genres import GTZAN_GENRES
    from musicgenre.data.synthetic import generate_dataset

    out = tmp_path_factory.mktemp("synthetic") / "genres"
    generate_dataset(out, GTZAN_GENRES, tracks_per_genre=3, duration_s=6.0, sample_rate=22050,
                     seed=7, progress=False)
    return out


@pytest.fixture
def http_server():
    server = FileServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A git + DVC repo holding a copy of the project's pipeline files."""
    return make_project_copy(tmp_path / "repo")


@pytest.fixture(scope="session")
def synthetic_features(tmp_path_factory):
    """120 synthetic tracks (12 per genre, 8 s) -> small log-mel features and MusiCNN
    embeddings, one augmented copy."""
    from musicgenre.data.config import SplitConfig
    from musicgenre.data.genres import GTZAN_GENRES
    from musicgenre.data.split import make_split
    from musicgenre.data.synthetic import generate_dataset
    from musicgenre.data.validate import scan_folder
    from musicgenre.features.build import extract_features
    from musicgenre.features.config import AugmentConfig, FeaturesConfig

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
    """A network (crnn) and two scikit-learn models, one on feature summaries (baseline) and
    one on embeddings (transfer), trained on the synthetic features (shared by several
    tests)."""
    from musicgenre.training.data import TrainingData

    out = tmp_path_factory.mktemp("trained")
    data = TrainingData.from_features_dir(synthetic_features)
    embedded = TrainingData.from_features_dir(synthetic_features, embeddings=True)
    summaries = {name: fit(name, embedded if name == "transfer" else data, out / name,
                           out / f"live_{name}", seed=5).info["summary"]
                 for name in ("crnn", "baseline", "transfer")}
    return out, summaries


# --------------------------------------------------------------------------- quick models
QUICK_SEED = 3


@pytest.fixture(scope="session")
def quick_split(synthetic_genres_dir):
    """Manifest and split of the 30 six-second synthetic tracks: one per genre in each of
    train, validation and test."""
    from musicgenre.data.config import SplitConfig
    from musicgenre.data.split import make_split
    from musicgenre.data.validate import scan_folder

    manifest = scan_folder(synthetic_genres_dir, progress=False)
    split, counts = make_split(manifest, SplitConfig(train=0.4, val=0.3, test=0.3),
                               seed=QUICK_SEED)
    return manifest, split, counts


@pytest.fixture(scope="session")
def quick_features(quick_split, tmp_path_factory):
    """Small log-mel features of the 30 synthetic tracks, no embeddings, no augmentation:
    seconds to build, for fast tests of what comes after the features stage."""
    from musicgenre.data.genres import GTZAN_GENRES
    from musicgenre.features.build import extract_features
    from musicgenre.features.config import AugmentConfig, FeaturesConfig

    manifest, split, _ = quick_split
    out = tmp_path_factory.mktemp("quick") / "features"
    extract_features(manifest, split, GTZAN_GENRES,
                     FeaturesConfig(n_mels=32, segment_s=2.0, segment_hop_s=1.0, workers=1),
                     AugmentConfig(copies=0), QUICK_SEED, out, progress=False)
    return out


@pytest.fixture(scope="session")
def quick_models(quick_features, tmp_path_factory):
    """A small cnn (2 epochs) and the baseline, fitted on quick_features: real models, in
    seconds. Models in <out>/<name>, training logs in <out>/training/<name>."""
    from dataclasses import replace

    from musicgenre.training.data import TrainingData

    out = tmp_path_factory.mktemp("quick_models")
    data = TrainingData.from_features_dir(quick_features)
    fit("cnn", data, out / "cnn", out / "training" / "cnn", seed=QUICK_SEED,
        train=replace(FAST_TRAIN, epochs=2, min_epochs=1))
    fit("baseline", data, out / "baseline", out / "training" / "baseline", seed=QUICK_SEED)
    return out


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """Tests that need the heavy session fixtures (120 tracks embedded with MusiCNN, a crnn
    trained to convergence) are slow: `make test-fast` leaves them out, `make test` (CI)
    runs them. Under pytest-xdist they share one worker (`--dist loadgroup`), so the heavy
    fixtures are built once, not once per worker."""
    heavy = {"synthetic_features", "trained"}
    for item in items:
        if heavy & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("heavy"))
