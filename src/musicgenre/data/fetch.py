"""Robust HTTP download and safe archive extraction.

`fetch` streams to `<name>.part`, resumes an interrupted transfer with a Range request,
retries with exponential backoff, tries mirrors in order and verifies size and checksum before
the final rename, so a file at its final name is always complete and verified.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from musicgenre.core.errors import (
    ArchiveError,
    ChecksumError,
    DownloadError,
    NetworkUnreachableError,
)

CHUNK = 1 << 20
OFFLINE_HINT = (
    "offline options: data.source=folder with data.path pointing at a local copy "
    "(directory, .tar.gz or .zip), or data.source=synthetic"
)


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, *, sha256: str | None = None, sha1: str | None = None,
           md5: str | None = None, expected_bytes: int | None = None,
           label: str | None = None) -> None:
    """Raise ChecksumError naming the file, the expected and the actual value on mismatch."""
    label = label or str(path)
    if expected_bytes is not None and path.stat().st_size != expected_bytes:
        raise ChecksumError(
            f"{label}: size mismatch: expected {expected_bytes} bytes, got {path.stat().st_size}"
        )
    for algorithm, expected in (("sha256", sha256), ("sha1", sha1), ("md5", md5)):
        if expected:
            actual = file_digest(path, algorithm)
            if actual.lower() != expected.lower():
                raise ChecksumError(
                    f"{label}: {algorithm} mismatch: expected {expected.lower()}, got {actual}"
                )


def _is_verified(path: Path, **checks) -> bool:
    try:
        verify(path, **checks)
        return True
    except ChecksumError:
        return False


class _Retryable(Exception):
    """A transient failure worth retrying on the same URL (the .part file is kept)."""


def _stream_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    """One HTTP attempt that appends to `part`, resuming from its current length."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "musicgenre-downloader"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return  # the .part already holds everything; verification decides
        if exc.code >= 500 or exc.code == 429:
            raise _Retryable(f"HTTP {exc.code}") from None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise _Retryable(_reason(exc)) from None

    with response:
        if offset and response.status == 200:
            offset = 0  # the server ignored Range: start over
        total = response.headers.get("Content-Length")
        total = int(total) + offset if total is not None else None
        mode = "ab" if offset else "wb"
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=part.name.removesuffix(".part"), disable=not progress, leave=False)
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        block = response.read(CHUNK)
                    except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                        raise _Retryable(f"connection lost ({_reason(exc)})") from None
                    if not block:
                        break
                    out.write(block)
                    bar.update(len(block))
        finally:
            bar.close()
        if total is not None and part.stat().st_size < total:
            raise _Retryable(f"connection closed after {part.stat().st_size} of {total} bytes")


def fetch(urls: list[str], dest: Path, *, sha256: str | None = None, sha1: str | None = None,
          md5: str | None = None, expected_bytes: int | None = None, retries: int = 4,
          backoff_s: float = 2.0, timeout_s: float = 60.0, progress: bool = True) -> Path:
    """Download `dest` from the first mirror that works and verify it.

    A verified file already at `dest` is reused. A checksum mismatch deletes only the bad
    `.part`, never a verified file, and the next mirror is tried.

    Why ten parameters: the checksums are keyword arguments, as RemoteFile.checks() gives
    them, and so is the retry policy, as DownloadConfig gives it; every caller passes them
    by name.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    checks = {"sha256": sha256, "sha1": sha1, "md5": md5, "expected_bytes": expected_bytes}
    if dest.exists() and _is_verified(dest, **checks):
        return dest
    part = dest.with_name(dest.name + ".part")
    failures: list[str] = []
    unreachable = mismatched = 0
    for url in urls:
        last: str | None = None
        for attempt in range(retries + 1):
            try:
                _stream_once(url, part, timeout_s, progress)
                last = None
                break
            except _Retryable as exc:
                last = str(exc)
                if attempt < retries:
                    time.sleep(backoff_s * 2**attempt)
            except DownloadError as exc:
                last = str(exc)
                break
        if last is not None:
            failures.append(f"{url}: {last}")
            if _looks_unreachable(last):
                unreachable += 1
            continue
        try:
            verify(part, label=f"{dest.name} from {url}", **checks)
        except ChecksumError as exc:
            part.unlink(missing_ok=True)  # the bytes are wrong: resuming from them cannot help
            failures.append(str(exc))
            mismatched += 1
            continue
        os.replace(part, dest)
        return dest
    if urls and unreachable == len(urls):
        raise NetworkUnreachableError(
            f"{dest.name}: no mirror reachable ({'; '.join(failures)}); {OFFLINE_HINT}"
        )
    if urls and mismatched == len(urls):
        raise ChecksumError("; ".join(failures))
    raise DownloadError(f"{dest.name}: every mirror failed: {'; '.join(failures)}")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return " ".join(str(reason).split()) or type(exc).__name__


def _looks_unreachable(message: str) -> bool:
    markers = ("Name or service not known", "Temporary failure in name resolution",
               "Network is unreachable", "No address associated", "nodename nor servname",
               "Connection refused", "timed out", "No route to host")
    return any(m in message for m in markers)


# --------------------------------------------------------------------------- archives
def check_member(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(
            f"{archive}: refusing member '{name}': it would be written outside the target directory"
        )
    return path


def extract_archive(archive: Path, target: Path) -> Path:
    """Extract a .tar(.gz|.bz2|.xz) or .zip into `target`, refusing members that escape it."""
    archive = Path(archive)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    check_member(info.filename, archive)
                zf.extractall(target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    check_member(member.name, archive)
                    if member.issym() or member.islnk():
                        link = PurePosixPath(member.name).parent / member.linkname
                        if member.linkname.startswith("/") or _escapes(link):
                            raise ArchiveError(
                                f"{archive}: refusing link '{member.name}' -> '{member.linkname}': "
                                "it points outside the target directory"
                            )
                # The 'data' filter is a second guard (no devices, no setuid bits).
                tf.extractall(target, members=members, filter="data")
        else:
            raise ArchiveError(f"{archive}: not a tar or zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ArchiveError(f"{archive}: cannot extract ({_reason(exc)})") from None
    return target


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return True
    return False


def is_archive(path: Path) -> bool:
    return path.is_file() and (zipfile.is_zipfile(path) or tarfile.is_tarfile(path))
