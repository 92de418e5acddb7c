"""Track-level splits: stratified with duplicates kept together, and the fault-filtered lists."""

import json

import pandas as pd
import pytest

from musicgenre.core.errors import MusicGenreError
from musicgenre.data.config import DownloadConfig, FaultFilteredConfig, SplitConfig
from musicgenre.data.download import load_fault_filtered_lists
from musicgenre.data.split import make_split, quota

REF_SHA256 = {
    "train_filtered.txt": "2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa",
    "valid_filtered.txt": "f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956",
    "test_filtered.txt": "09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72",
}


@pytest.fixture(scope="module")
def gtzan_manifest(real_data) -> pd.DataFrame:
    """The 1000 GTZAN ids with their real md5s (14 byte-identical pairs among them)."""
    index = json.loads((real_data / "gtzan-ref/gtzan_track_md5_index.json").read_text())
    rows = [{"id": tid, "genre": tid.split(".")[0], "md5": entry["audio"][1]}
            for tid, entry in sorted(index["tracks"].items())]
    return pd.DataFrame(rows)


def split_cfg(**kw) -> SplitConfig:
    return SplitConfig(fault_filtered=FaultFilteredConfig(base_urls=["http://x"],
                                                          sha256=REF_SHA256), **kw)


def test_quota_sums_exactly():
    assert quota(100, (0.7, 0.15, 0.15)) == [70, 15, 15]
    assert quota(5, (0.7, 0.15, 0.15)) == [3, 1, 1]
    assert quota(7, (0.85, 0.15, 0.0)) == [6, 1, 0]
    assert sum(quota(13, (0.7, 0.15, 0.15))) == 13


@pytest.mark.parametrize("fractions", [(0.7, 0.15, 0.15), (0.8, 0.1, 0.1), (0.85, 0.15, 0.0)])
def test_stratified_split_properties(gtzan_manifest, fractions):
    train, val, test = fractions
    table, counts = make_split(gtzan_manifest, split_cfg(train=train, val=val, test=test), 1)
    assert sorted(table["id"]) == sorted(gtzan_manifest["id"])  # covers every kept track
    assert table["id"].is_unique  # so the splits are disjoint
    for genre, n in gtzan_manifest["genre"].value_counts().items():
        got = table[table["genre"] == genre]["split"].value_counts()
        for split, fraction in zip(("train", "val", "test"), fractions, strict=True):
            assert abs(got.get(split, 0) - fraction * n) <= 1, (genre, split)
    # Byte-identical tracks (e.g. rock.00016 == metal.00058) always share a split.
    merged = table.drop(columns="md5").merge(gtzan_manifest[["id", "md5"]], on="id")
    groups = merged.groupby("md5")
    dup_groups = [g for _, g in groups if len(g) > 1]
    assert len(dup_groups) == 14
    assert all(g["split"].nunique() == 1 for g in dup_groups)
    assert counts.set_index("genre").loc["total", "total"] == 1000


def test_split_is_deterministic_for_a_seed(gtzan_manifest):
    a, _ = make_split(gtzan_manifest, split_cfg(), seed=3)
    b, _ = make_split(gtzan_manifest, split_cfg(), seed=3)
    c, _ = make_split(gtzan_manifest, split_cfg(), seed=4)
    assert a.equals(b)
    assert not a["split"].equals(c["split"])


def test_fault_filtered_reproduces_published_counts(http_server, real_data, gtzan_manifest,
                                                    tmp_path):
    for name in REF_SHA256:
        http_server.routes[f"/gtzan/{name}"] = (real_data / "gtzan-ref" / name).read_bytes()
    cfg = SplitConfig(method="fault-filtered", fault_filtered=FaultFilteredConfig(
        base_urls=[http_server.url("/gone"), http_server.url("/gtzan")], sha256=REF_SHA256))
    # the download stage fetches the lists (the split stage never downloads) ...
    lists = load_fault_filtered_lists(cfg, DownloadConfig(retries=0, cache_dir=str(tmp_path)))
    assert {k: len(v) for k, v in lists.items()} == {"train": 443, "val": 197, "test": 290}
    where = {track: part for part, ids in lists.items() for track in ids}
    # ... and records each track's part as its source_split, which the manifest carries
    manifest = gtzan_manifest.assign(source_split=gtzan_manifest["id"].map(where).fillna(""))
    table, counts = make_split(manifest, cfg, seed=0)
    assert table["split"].value_counts().to_dict() == {"train": 443, "test": 290, "val": 197}
    assert counts.attrs["excluded"] == 1000 - 930
    with pytest.raises(MusicGenreError, match="only applies to GTZAN"):
        make_split(gtzan_manifest.assign(source_split=""), cfg, seed=0)


def test_small_genres_still_give_every_split():
    import numpy as np

    from musicgenre.data.split import allocate

    counts = allocate({f"g{i}": 4 for i in range(10)}, (0.7, 0.15, 0.15),
                      np.random.default_rng(0))
    totals = np.sum(list(counts.values()), axis=0).tolist()
    assert totals == [28, 6, 6]
    assert all(abs(c - f * 4) < 1 for cs in counts.values()
               for c, f in zip(cs, (0.7, 0.15, 0.15), strict=True))


@pytest.fixture(scope="module")
def gtzan_artist_manifest(real_data, gtzan_manifest) -> pd.DataFrame:
    from musicgenre.data.artists import read_gtzan_index

    index = read_gtzan_index(real_data / "gtzan-ref/GTZANindex.txt")
    return gtzan_manifest.assign(artist=gtzan_manifest["id"].map(index))


def test_artist_split_keeps_every_artist_and_duplicate_on_one_side(gtzan_artist_manifest):
    from musicgenre.data.split import split_protocol

    cfg = split_cfg()
    table, counts = make_split(gtzan_artist_manifest, cfg, seed=42)
    protocol = split_protocol(table, cfg, counts)
    assert protocol["group_by"] == "artist" and protocol["tracks_with_artist"] == 919
    assert protocol["artists_shared"] == {"train-test": 0, "train-val": 0, "val-test": 0}
    assert protocol["duplicate_groups"] == 14 and protocol["duplicate_groups_across_splits"] == 0
    sizes = table["split"].value_counts(normalize=True)
    assert abs(sizes["test"] - 0.15) < 0.02 and abs(sizes["val"] - 0.15) < 0.02
    per_genre = pd.crosstab(table["genre"], table["split"])
    assert (per_genre > 0).all().all()  # every genre in every split on full GTZAN
    # the artist-blind split of the same tracks shares dozens of artists
    blind_cfg = split_cfg(group_by="track")
    blind, blind_counts = make_split(gtzan_artist_manifest, blind_cfg, seed=42)
    assert split_protocol(blind, blind_cfg, blind_counts)["artists_shared"]["train-test"] > 30
    again, _ = make_split(gtzan_artist_manifest, cfg, seed=42)
    assert again.equals(table)


def test_single_artist_genre_stays_in_train_and_is_reported():
    rows = [{"id": f"{g}.{i:05d}", "genre": g, "md5": f"{g}{i}",
             "artist": "Bob Marley" if g == "reggae" else f"{g} artist {i % 4}"}
            for g in ("reggae", "rock", "metal", "jazz") for i in range(12)]
    rows[13]["artist"] = None  # a track without artist is its own group
    manifest = pd.DataFrame(rows)
    table, counts = make_split(manifest, split_cfg(), seed=1)
    assert (table.loc[table["genre"] == "reggae", "split"] == "train").all()
    assert any(n.startswith("reggae: all 12 tracks are one artist") for n in counts.attrs["notes"])
    for _, tracks in table[table["artist"] != ""].groupby("artist"):
        assert tracks["split"].nunique() == 1
    assert set(table["split"]) == {"train", "val", "test"}


def test_group_by_artist_without_artists_falls_back_to_tracks(gtzan_manifest):
    table, counts = make_split(gtzan_manifest, split_cfg(), seed=3)
    assert counts.attrs["group_by"] == "track"
    assert counts.attrs["notes"] == ["no track has a known artist: split by track"]
    assert table["split"].value_counts().to_dict() == {"train": 700, "val": 150, "test": 150}


def test_manifest_read_back_without_artists_splits_by_track(tmp_path):
    """The manifest CSV stores unknown artists as empty cells (NaN when read back)."""
    from musicgenre.data.tables import read_manifest

    rows = [{"id": f"{g}.{i:05d}", "genre": g, "artist": "", "md5": f"{g}{i}", "keep": True}
            for g in ("rock", "jazz") for i in range(10)]
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    table, counts = make_split(read_manifest(tmp_path / "manifest.csv"), split_cfg(), seed=0)
    assert counts.attrs["group_by"] == "track"
    assert table["split"].value_counts().to_dict() == {"train": 14, "val": 3, "test": 3}


def test_the_download_stage_fetches_the_lists_and_the_split_only_reads(
        http_server, real_data, synthetic_genres_dir, tmp_path):
    """split.method: fault-filtered: the download stage fetches the published lists and
    records each track's part in metadata.csv; validate carries it into the manifest; the
    split stage reads it from there with no network (the server is gone by then)."""
    from musicgenre.data.config import DataConfig
    from musicgenre.data.download import build_raw
    from musicgenre.data.validate import add_metadata, scan_folder

    for name in REF_SHA256:
        http_server.routes[f"/gtzan/{name}"] = (real_data / "gtzan-ref" / name).read_bytes()
    cfg = SplitConfig(method="fault-filtered", fault_filtered=FaultFilteredConfig(
        base_urls=[http_server.url("/gtzan")], sha256=REF_SHA256))
    data = DataConfig(source="folder", path=str(synthetic_genres_dir))
    data.download.cache_dir = str(tmp_path / "cache")
    data.artists.gtzan_index = None  # the lists are the point here, not the artists
    provenance = build_raw(data, [], 0, tmp_path / "raw", progress=False, split=cfg)
    assert provenance["fault_filtered"]["sha256"] == REF_SHA256
    lists = {part: {line.split("/")[-1].removesuffix(".wav")
                    for line in (real_data / "gtzan-ref" / name).read_text().split()}
             for part, name in (("train", "train_filtered.txt"), ("val", "valid_filtered.txt"),
                                ("test", "test_filtered.txt"))}
    metadata = pd.read_csv(tmp_path / "raw/metadata.csv", keep_default_na=False)
    for track, part in zip(metadata["id"], metadata["source_split"], strict=True):
        assert part == next((p for p, ids in lists.items() if track in ids), ""), track
    http_server.routes.clear()
    manifest = add_metadata(scan_folder(tmp_path / "raw/genres", progress=False),
                            tmp_path / "raw/metadata.csv")
    listed = metadata["source_split"] != ""
    table, counts = make_split(manifest, cfg, seed=0)
    assert sorted(table["id"]) == sorted(metadata.loc[listed, "id"])
    assert counts.attrs["excluded"] == int((~listed).sum())
    # without the lists (another method) the download stage fetches nothing of them
    plain = build_raw(data, [], 0, tmp_path / "raw2", progress=False, split=SplitConfig())
    assert "fault_filtered" not in plain


def test_no_artist_dominates_the_held_out_sets_of_the_117_real_tracks(real_data):
    """With the 117 real tracks (three folders), one band once filled 10 of 17 validation
    tracks. Artists of 5-10 tracks in a 16-track set cannot always stay under
    MAX_GROUP_SHARE, but no held-out set is more than 40% one artist now, for any of several
    seeds, the protocol says how much, and no artist is on two sides."""
    from musicgenre.data.artists import read_gtzan_index
    from musicgenre.data.config import SplitConfig
    from musicgenre.data.split import make_split, split_protocol

    index = read_gtzan_index(real_data / "gtzan-ref/GTZANindex.txt")
    ids = sorted(p.stem for folder in ("gtzan-dev", "gtzan-extra", "gtzan-more-artists")
                 for p in (real_data / folder / "genres").glob("*/*.wav"))
    assert len(ids) == 117
    manifest = pd.DataFrame({"id": ids, "genre": [i.split(".")[0] for i in ids], "md5": ids,
                             "artist": [index.get(i) for i in ids]})
    for seed in (0, 1, 42):
        table, counts = make_split(manifest, SplitConfig(), seed=seed)
        group = table["artist"].where(table["artist"] != "", table["id"])
        protocol = split_protocol(table, SplitConfig(), counts)
        for name in ("val", "test"):
            held = group[table["split"] == name]
            share = held.value_counts().iloc[0] / len(held)
            assert share <= 0.4, (seed, name, share)
            assert protocol["largest_artist_share"][name]["share"] == pytest.approx(
                share, abs=1e-3)
        assert (table.groupby(group)["split"].nunique() == 1).all()
