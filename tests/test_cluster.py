"""Feature extraction on a Dask cluster: a real LocalCluster with 2 worker processes gives the
same bytes as the local worker pool, even when a worker dies mid-run."""

import os
import signal
import threading
import time

import pandas as pd
import pytest

from musicgenre.data.genres import GTZAN_GENRES
from musicgenre.features.build import extract_features
from musicgenre.features.config import AugmentConfig, FeaturesConfig

pytestmark = pytest.mark.slow  # three extractions of real tracks with embeddings (~1 min)

CFG = FeaturesConfig(embedding="MSD_musicnn", workers=2)
AUG = AugmentConfig(copies=1)


@pytest.fixture(scope="module")
def tracks(real_genres_dir):
    """10 real dev tracks: 8 to train on (augmented), 2 to test."""
    rows = [{"id": f"{g}.0000{k}", "genre": g, "split": "train" if k < 2 else "test",
             "path": str(real_genres_dir / g / f"{g}.0000{k}.wav")}
            for g in ("metal", "classical", "pop", "country", "hiphop") for k in (0, 1)]
    frame = pd.DataFrame(rows)
    frame.loc[frame["genre"].isin(["country", "hiphop"]) & (frame["id"].str[-1] == "1"),
              "split"] = "test"
    return frame[["id", "path"]], frame[["id", "genre", "split"]]


@pytest.fixture(scope="module")
def local_features(tracks, tmp_path_factory):
    manifest, split = tracks
    out = tmp_path_factory.mktemp("local") / "features"
    extract_features(manifest, split, GTZAN_GENRES, CFG, AUG, 5, out, progress=False)
    return out


@pytest.fixture
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster


def _same_files(a, b):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_cluster_gives_the_local_bytes(tracks, local_features, cluster, tmp_path):
    manifest, split = tracks
    extract_features(manifest, split, GTZAN_GENRES, CFG, AUG, 5, tmp_path / "features",
                     progress=False, cluster_address=cluster.scheduler_address)
    _same_files(local_features, tmp_path / "features")


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(tracks, local_features, cluster,
                                                           tmp_path):
    from distributed import Client

    manifest, split = tracks
    killed = {}

    def kill_a_busy_worker():
        with Client(cluster.scheduler_address) as client:
            pids = client.run(os.getpid)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    killed["worker"] = busy[0]
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    extract_features(manifest, split, GTZAN_GENRES, CFG, AUG, 5, tmp_path / "features",
                     progress=False, cluster_address=cluster.scheduler_address)
    killer.join()
    assert killed, "no worker was busy to kill"
    _same_files(local_features, tmp_path / "features")
    index = pd.read_csv(tmp_path / "features" / "train.csv")
    assert sorted(index["track_id"].unique()) == sorted(split[split["split"] == "train"]["id"])


def test_no_scheduler_is_one_clear_error(tracks, tmp_path):
    from musicgenre.core.errors import MusicGenreError

    manifest, split = tracks
    with pytest.raises(MusicGenreError, match="cluster.address: no Dask scheduler answers"):
        extract_features(manifest, split, GTZAN_GENRES, CFG, AUG, 5, tmp_path / "f",
                         progress=False, cluster_address="tcp://127.0.0.1:9")
