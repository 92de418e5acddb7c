"""The real download code against a local HTTP server on 127.0.0.1 (no internet needed)."""

import hashlib
import io
import socket
import tarfile
import zipfile

import pytest

from musicgenre.core.errors import (
    ArchiveError,
    ChecksumError,
    DownloadError,
    NetworkUnreachableError,
)
from musicgenre.data.config import DataConfig, RemoteFile
from musicgenre.data.download import build_raw
from musicgenre.data.fetch import extract_archive, fetch


@pytest.fixture(scope="module")
def gtzan_like_archive(synthetic_genres_dir) -> bytes:
    """A genres.tar.gz in the official layout, built from synthetic audio."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(synthetic_genres_dir, arcname="genres")
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fast(**kw):
    return {"retries": 3, "backoff_s": 0.01, "timeout_s": 5, "progress": False, **kw}


def test_download_success(http_server, tmp_path, gtzan_like_archive):
    http_server.routes["/genres.tar.gz"] = gtzan_like_archive
    dest = fetch([http_server.url("/genres.tar.gz")], tmp_path / "genres.tar.gz",
                 **fast(sha256=sha256(gtzan_like_archive), expected_bytes=len(gtzan_like_archive)))
    assert dest.read_bytes() == gtzan_like_archive
    assert not (tmp_path / "genres.tar.gz.part").exists()
    # A verified file is reused without touching the network.
    n = len(http_server.requests)
    fetch([http_server.url("/genres.tar.gz")], dest, **fast(sha256=sha256(gtzan_like_archive)))
    assert len(http_server.requests) == n


def test_interrupted_download_resumes_with_range(http_server, tmp_path, gtzan_like_archive):
    http_server.routes["/genres.tar.gz"] = gtzan_like_archive
    http_server.cut_once.add("/genres.tar.gz")
    dest = fetch([http_server.url("/genres.tar.gz")], tmp_path / "genres.tar.gz",
                 **fast(sha256=sha256(gtzan_like_archive)))
    assert dest.read_bytes() == gtzan_like_archive
    ranges = [r for path, r in http_server.requests if path == "/genres.tar.gz"]
    assert ranges[0] is None
    half = len(gtzan_like_archive) // 2
    assert ranges[1] == f"bytes={half}-", "second request must resume where the cut left off"


def test_wrong_checksum_names_file_and_both_hashes(http_server, tmp_path, gtzan_like_archive):
    http_server.routes["/genres.tar.gz"] = gtzan_like_archive
    dest = tmp_path / "genres.tar.gz"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        fetch([http_server.url("/genres.tar.gz")], dest, **fast(sha256=wrong))
    message = str(err.value)
    assert "genres.tar.gz" in message
    assert f"expected {wrong}" in message
    assert f"got {sha256(gtzan_like_archive)}" in message
    assert not dest.exists() and not (tmp_path / "genres.tar.gz.part").exists()


def test_checksum_mismatch_keeps_a_valid_file(http_server, tmp_path):
    good = b"good archive bytes"
    dest = tmp_path / "file.bin"
    dest.write_bytes(good)
    http_server.routes["/file.bin"] = b"tampered"
    # The existing file verifies, so it is kept and nothing is fetched.
    fetch([http_server.url("/file.bin")], dest, **fast(sha256=sha256(good)))
    assert dest.read_bytes() == good and http_server.requests == []
    # Asking for different bytes: the mirror serves the wrong ones; the old file stays.
    with pytest.raises(ChecksumError):
        fetch([http_server.url("/file.bin")], dest, **fast(sha256=sha256(b"other")))
    assert dest.read_bytes() == good


def test_first_mirror_404_then_second_mirror(http_server, tmp_path, gtzan_like_archive):
    http_server.routes["/mirror2/genres.tar.gz"] = gtzan_like_archive
    urls = [http_server.url("/mirror1/genres.tar.gz"), http_server.url("/mirror2/genres.tar.gz")]
    dest = fetch(urls, tmp_path / "genres.tar.gz", **fast(sha256=sha256(gtzan_like_archive)))
    assert dest.read_bytes() == gtzan_like_archive
    assert [p for p, _ in http_server.requests] == ["/mirror1/genres.tar.gz",
                                                     "/mirror2/genres.tar.gz"]


def test_all_mirrors_missing(http_server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch([http_server.url("/nope")], tmp_path / "x", **fast(sha256="0" * 64))


def test_unreachable_network_names_offline_options(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkUnreachableError) as err:
        fetch([f"http://127.0.0.1:{port}/genres.tar.gz"], tmp_path / "genres.tar.gz",
              **fast(sha256="0" * 64, retries=1))
    assert "data.source=folder" in str(err.value) and "data.source=synthetic" in str(err.value)


def test_tar_member_escaping_target_is_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        data = b"not audio"
        info = tarfile.TarInfo("genres/../../evil.wav")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    target = tmp_path / "out"
    with pytest.raises(ArchiveError, match="refusing member 'genres/../../evil.wav'"):
        extract_archive(archive, target)
    assert not (tmp_path / "evil.wav").exists()


def test_tar_symlink_escaping_target_is_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("genres/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../etc/passwd"
        tf.addfile(info)
    with pytest.raises(ArchiveError, match="points outside"):
        extract_archive(archive, tmp_path / "out")


def test_zip_member_escaping_target_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.wav", b"x")
    with pytest.raises(ArchiveError, match="refusing member"):
        extract_archive(archive, tmp_path / "out")


def test_gtzan_source_end_to_end_over_http(http_server, tmp_path, gtzan_like_archive,
                                           synthetic_genres_dir):
    http_server.routes["/genres.tar.gz"] = gtzan_like_archive
    cfg = DataConfig(source="gtzan")
    cfg.gtzan = RemoteFile(urls=[http_server.url("/missing.tar.gz"),
                                 http_server.url("/genres.tar.gz")],
                           filename="genres.tar.gz", sha256=sha256(gtzan_like_archive),
                           bytes=len(gtzan_like_archive))
    cfg.download.cache_dir = str(tmp_path / "cache")
    cfg.download.backoff_s = 0.01
    cfg.artists.gtzan_index = None  # no internet here for Sturm's index; no artists needed
    provenance = build_raw(cfg, [], 0, tmp_path / "raw", progress=False)
    expected = sorted(p.relative_to(synthetic_genres_dir).as_posix()
                      for p in synthetic_genres_dir.glob("*/*.wav"))
    got = sorted(p.relative_to(tmp_path / "raw" / "genres").as_posix()
                 for p in (tmp_path / "raw" / "genres").glob("*/*.wav"))
    assert got == expected
    assert provenance["n_tracks"] == len(expected)
    assert (tmp_path / "raw" / "source.json").exists()
    assert not (tmp_path / ".raw.tmp").exists()
