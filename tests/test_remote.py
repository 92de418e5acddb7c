"""A shared DVC cache: push to a real WebDAV server on 127.0.0.1, pull into a fresh clone,
and `dvc repro` there recomputes nothing."""

import threading

import pytest

from helpers.dvc_repo import dvc, git, run, update_params

pytestmark = pytest.mark.slow  # runs the data stages and two DVC clones (~1 min)


@pytest.fixture
def webdav_server(tmp_path):
    """WsgiDAV serving an empty folder, anonymous read-write, on a free port."""
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    root = tmp_path / "webdav"
    (root / "cache").mkdir(parents=True)  # the remote's folder, as a team would create it
    app = WsgiDAVApp({"provider_mapping": {"/": str(root)},
                      "simple_dc": {"user_mapping": {"*": True}},
                      "verbose": 0, "logging": {"enable": False}})
    server = wsgi.Server(("127.0.0.1", 0), app)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"webdav://127.0.0.1:{server.bind_addr[1]}/cache", root
    finally:
        server.stop()
        thread.join(timeout=10)


def test_push_pull_round_trip_recomputes_nothing(project_copy, webdav_server, tmp_path):
    url, served = webdav_server
    update_params(project_copy, {"data.source": "synthetic", "data.synthetic.tracks_per_genre": 3,
                                 "data.synthetic.duration_s": 6.0, "features.embedding": None,
                                 "augment.copies": 0})
    dvc("remote", "add", "--default", "shared", url, cwd=project_copy)
    dvc("repro", "features", cwd=project_copy)
    dvc("push", cwd=project_copy)
    assert any(p.is_file() for p in served.rglob("*"))  # the cache is on the server now
    git("add", "-A", cwd=project_copy)
    git("commit", "-qm", "features computed", cwd=project_copy)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project_copy), str(clone)], tmp_path)
    assert not (clone / "data" / "features").exists()
    dvc("pull", "--with-deps", "features", cwd=clone)
    assert (clone / "data/features/train.npy").read_bytes() == (
        project_copy / "data/features/train.npy").read_bytes()
    again = dvc("repro", "features", cwd=clone).stdout
    assert "Running stage" not in again, again
