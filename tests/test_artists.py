"""Artists for artist-grouped splits: Sturm's GTZAN index, artists.csv, file tags, the
download and validate stages carrying them into the manifest."""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musicgenre.core.errors import MusicGenreError
from musicgenre.data.artists import artist_key, read_gtzan_index, resolve_artists, tag_artist
from musicgenre.data.config import ArtistsConfig, DataConfig, DownloadConfig, RemoteFile
from musicgenre.data.download import build_raw
from musicgenre.data.validate import add_metadata

INDEX_SHA256 = "7bc7140f082cccd72046ec7c6e9b9c211a7491f6e7ede38fddafc63058559833"


def index_cfg(urls, tmp_path, sha256=INDEX_SHA256, **kw) -> DataConfig:
    return DataConfig(
        artists=ArtistsConfig(gtzan_index=RemoteFile(urls=urls, filename="GTZANindex.txt",
                                                     sha256=sha256)),
        download=DownloadConfig(retries=0, backoff_s=0.0, timeout_s=5.0,
                                cache_dir=str(tmp_path / "cache")), **kw)


def test_sturm_index_reads_every_named_track(real_data):
    index = read_gtzan_index(real_data / "gtzan-ref/GTZANindex.txt")
    assert len(index) == 1000 - 81  # 81 tracks have no artist in the index
    assert index["blues.00000"] == "John Lee Hooker" and index["reggae.00003"] == "Bob Marley"
    assert "metal.00006" not in index


def test_bad_index_line_is_one_clear_error(tmp_path):
    bad = tmp_path / "GTZANindex.txt"
    bad.write_text("blues.00000.wav ::: John Lee Hooker ::: x\nnot an index line\n")
    with pytest.raises(MusicGenreError, match=r"GTZANindex.txt: line 2 is not"):
        read_gtzan_index(bad)


def test_artist_key_ignores_case_and_spacing():
    assert artist_key("De La  Soul ") == artist_key("de la soul")
    assert artist_key("  ") is None and artist_key(None) is None
    assert artist_key(float("nan")) is None  # an empty CSV cell read by pandas
    assert artist_key("Bob Marley") != artist_key("Bob Marley & The Wailers")


def test_tags_then_csv_take_precedence_over_the_index(http_server, real_data, tmp_path):
    http_server.routes["/GTZANindex.txt"] = (real_data / "gtzan-ref/GTZANindex.txt").read_bytes()
    root = tmp_path / "music"
    (root / "rock").mkdir(parents=True)
    tone = 0.1 * np.sin(np.arange(22050) / 10.0)
    for name in ("rock.00000.flac", "rock.00001.flac", "rock.00002.flac", "mine.flac"):
        sf.write(root / "rock" / name, tone, 22050)
    from mutagen.flac import FLAC

    tagged = FLAC(root / "rock/rock.00001.flac")
    tagged["artist"] = "Tagged Artist"
    tagged.save()
    (root / "artists.csv").write_text("file,artist\nrock/rock.00002.flac,From Csv\nmine.flac,"
                                      "Me\n")
    assert tag_artist(root / "rock/rock.00001.flac") == "Tagged Artist"
    tracks = [{"id": p.stem, "original": p.relative_to(root).as_posix(), "path": p}
              for p in sorted((root / "rock").iterdir())]
    found = resolve_artists(tracks, root, index_cfg([http_server.url("/GTZANindex.txt")],
                                                    tmp_path))
    assert dict(zip([t["id"] for t in tracks], found, strict=True)) == {
        "mine": ("Me", "artists.csv"),  # matched by bare file name
        "rock.00000": ("Morphine", "sturm-index"),
        "rock.00001": ("Tagged Artist", "tags"),
        "rock.00002": ("From Csv", "artists.csv"),
    }
    # without tags the index answers for rock.00001 too; only one download was made
    no_tags = index_cfg([http_server.url("/GTZANindex.txt")], tmp_path)
    no_tags.artists.tags = False
    assert resolve_artists(tracks[1:2], root, no_tags) == [("Morphine", "sturm-index")]
    assert [p for p, _ in http_server.requests] == ["/GTZANindex.txt"]


def test_unreachable_or_wrong_index_says_how_to_go_on(http_server, real_data, tmp_path):
    tracks = [{"id": "rock.00000", "original": "rock/rock.00000.wav",
               "path": tmp_path / "none.wav"}]
    with pytest.raises(MusicGenreError, match="data.artists.gtzan_index: null"):
        resolve_artists(tracks, tmp_path, index_cfg([http_server.url("/gone")], tmp_path))
    http_server.routes["/GTZANindex.txt"] = b"blues.00000.wav ::: Someone Else ::: x\n"
    with pytest.raises(MusicGenreError, match="sha256 mismatch"):
        resolve_artists(tracks, tmp_path, index_cfg([http_server.url("/GTZANindex.txt")],
                                                    tmp_path))
    local = real_data / "gtzan-ref/GTZANindex.txt"
    assert resolve_artists(tracks, tmp_path, index_cfg(["http://127.0.0.1:9/x"], tmp_path),
                           local_index=local) == [("Morphine", "sturm-index")]


def test_bad_artists_csv_is_one_clear_error(tmp_path):
    (tmp_path / "artists.csv").write_text("path,name\na.wav,b\n")
    with pytest.raises(MusicGenreError, match=r"artists.csv: needs the columns 'file' and"):
        resolve_artists([{"id": "a", "original": "a.wav", "path": tmp_path / "a.wav"}],
                        tmp_path, DataConfig())


def test_download_and_validate_carry_artists_into_the_manifest(http_server, real_data,
                                                               real_genres_dir, tmp_path):
    http_server.routes["/GTZANindex.txt"] = (real_data / "gtzan-ref/GTZANindex.txt").read_bytes()
    source = tmp_path / "dev"
    shutil.copytree(real_genres_dir, source)
    cfg = index_cfg([http_server.url("/GTZANindex.txt")], tmp_path, source="folder",
                    path=str(source))
    provenance = build_raw(cfg, [], 0, tmp_path / "raw", progress=False)
    summary = provenance["artists"]
    # country.00002 is blank in Sturm's index; the other 49 dev tracks have an artist
    assert summary["tracks_with_artist"] == 49 and summary["tracks_without_artist"] == 1
    assert summary["from"] == {"sturm-index": 49}
    assert summary["gtzan_index"]["sha256"] == INDEX_SHA256
    metadata = pd.read_csv(tmp_path / "raw/metadata.csv", keep_default_na=False)
    assert metadata.set_index("id").loc["blues.00003", "artist"] == "John Lee Hooker"
    assert (metadata["source_split"] == "").all()  # a folder publishes no split
    manifest = add_metadata(pd.DataFrame({"id": ["blues.00003", "country.00002", "zz"]}),
                            tmp_path / "raw/metadata.csv")
    assert manifest["artist"].tolist() == ["John Lee Hooker", "", ""]
    saved = json.loads((tmp_path / "raw/source.json").read_text())
    assert saved["files"][0]["artist_source"] == "sturm-index"
    assert hashlib.sha256((tmp_path / "cache/gtzan-artists/GTZANindex.txt").read_bytes()
                          ).hexdigest() == INDEX_SHA256
