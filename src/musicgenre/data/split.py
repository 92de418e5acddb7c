"""The split stage: track-level train/val/test assignment, by artist where artists are known.

Splitting is by track, never by segment (segment leakage inflates GTZAN accuracy by 5-15
points), and byte-identical tracks (same md5; GTZAN has 14 such pairs, some across genres) are
always put in the same split, so a duplicate can never leak a test track into training.

With `group_by: artist` (the default) every artist's tracks also stay on one side: GTZAN is
ordered by artist, and a test set of artists the model trained on measures artist recognition
as much as genre. Groups (artist plus duplicates; a track without artist is its own group) are
dealt by scikit-learn's `StratifiedGroupKFold`, which stratifies by genre as far as the groups
allow. A genre whose tracks are all one group cannot be split: it stays in training, and the
split says so. With `group_by: track` each genre gets its exact quota (`allocate`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from musicgenre.core.errors import MusicGenreError
from musicgenre.data.artists import artist_key
from musicgenre.data.config import SplitConfig
from musicgenre.data.tables import SPLITS


def quota(n: int, fractions: tuple[float, float, float]) -> list[int]:
    """Split n items by fractions with the largest-remainder method (sums to n exactly)."""
    exact = np.array(fractions) * n
    counts = np.floor(exact).astype(int)
    remainder = exact - counts
    for i in np.argsort(-remainder, kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def allocate(sizes: dict[str, int], fractions: tuple[float, float, float],
             rng: np.random.Generator) -> dict[str, list[int]]:
    """Per-genre split counts: each within one track of its exact share, totals exact.

    Each genre first gets the floor of its share; the leftover tracks go, one per split at
    most, to the splits furthest below the dataset-wide quota, so that e.g. 10 genres of 4
    tracks give 28/6/6 overall instead of 30/10/0 from rounding every genre the same way.
    """
    shares = {g: np.array(fractions) * n for g, n in sizes.items()}
    counts = {g: np.floor(s).astype(int) for g, s in shares.items()}
    deficit = np.array(quota(sum(sizes.values()), fractions)) - sum(counts.values())
    for g in (list(sizes)[i] for i in rng.permutation(len(sizes))):
        left = sizes[g] - counts[g].sum()
        remainder = shares[g] - counts[g]
        order = sorted(range(len(SPLITS)), key=lambda s: (-deficit[s], -remainder[s], s))
        for s in [s for s in order if remainder[s] > 0][:left]:
            counts[g][s] += 1
            deficit[s] -= 1
    return {g: c.tolist() for g, c in counts.items()}


def _duplicate_groups(manifest: pd.DataFrame) -> list[list[int]]:
    """Row indices grouped by md5 (a track with no twin is a group of one)."""
    if "md5" not in manifest:
        return [[i] for i in range(len(manifest))]
    return [list(idx) for idx in manifest.groupby("md5", sort=True).indices.values()]


def track_groups(manifest: pd.DataFrame, group_by: str) -> np.ndarray:
    """A group number per row: rows sharing an artist (group_by=artist) or an md5 are joined
    (transitively), every other track is a group of its own."""
    parent = list(range(len(manifest)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [manifest["md5"]] if "md5" in manifest else []
    if group_by == "artist" and "artist" in manifest:
        keys.append(manifest["artist"].map(artist_key))
    for key in keys:
        first: dict = {}
        for i, value in enumerate(key.tolist()):
            if pd.isna(value):  # no artist (or md5): a group of its own
                continue
            if value in first:
                parent[root(i)] = root(first[value])
            else:
                first[value] = i
    roots = [root(i) for i in range(len(manifest))]
    return np.unique(roots, return_inverse=True)[1]


def has_artists(manifest: pd.DataFrame) -> bool:
    return "artist" in manifest and bool(manifest["artist"].map(artist_key).notna().any())


def single_group_genres(manifest: pd.DataFrame, groups: np.ndarray) -> list[str]:
    """Genres whose tracks all fall in one group (e.g. all one artist): they cannot be put
    on both sides of a split."""
    frame = pd.DataFrame({"genre": manifest["genre"].to_numpy(), "group": groups})
    per_genre = frame.groupby("genre")["group"].nunique()
    return sorted(g for g, n in per_genre.items() if n == 1 and (frame["genre"] == g).sum() > 1)


# A held-out set mostly by one band measures that band (it happened: 10 of 17 validation
# tracks by Morphine read 18% and calibrated the model on one artist). Of the candidate
# folds, those whose largest group is at most this share are preferred, then the least
# dominated; an artist with 6 of a genre's 10 tracks cannot always be kept under it, so the
# split protocol records each held-out set's largest share.
MAX_GROUP_SHARE = 0.25
DEALINGS = 5  # shuffles of the groups tried, each giving round(1/fraction) candidate folds


def _hold_out(rows: np.ndarray, genre: np.ndarray, groups: np.ndarray, fraction: float,
              seed: int) -> np.ndarray:
    """About `fraction` of `rows`, whole groups, stratified by genre: one fold of a
    StratifiedGroupKFold with round(1/fraction) folds. Of the folds of DEALINGS seeded
    shuffles, the one closest to the target size among those where no group exceeds
    MAX_GROUP_SHARE (else the one whose largest group is smallest). On tiny data the fold
    count is capped by the number of groups and the largest genre."""
    largest = int(pd.Series(genre[rows]).value_counts().max())
    folds = max(2, min(round(1 / fraction), len(np.unique(groups[rows])), largest))
    tests = []
    for dealing in range(DEALINGS):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True,
                                        random_state=seed + 7919 * dealing)
        with warnings.catch_warnings():  # "fewer members than n_splits": expected on small data
            warnings.simplefilter("ignore", UserWarning)
            tests += [test for _, test in splitter.split(rows, genre[rows], groups[rows])]
    target = fraction * len(rows)

    def dominance(test: np.ndarray) -> float:
        return float(pd.Series(groups[rows][test]).value_counts().iloc[0] / len(test))

    return rows[min(tests, key=lambda t: (max(dominance(t), MAX_GROUP_SHARE),
                                          abs(len(t) - target)))]


def grouped_split(manifest: pd.DataFrame, fractions: tuple[float, float, float], seed: int,
                  groups: np.ndarray) -> tuple[pd.Series, list[str]]:
    """Whole groups per split, stratified by genre; returns (assignment, notes).

    The test set is held out first, then the validation set from the rest, each as one fold
    of scikit-learn's `StratifiedGroupKFold`. Genres that are one group go to training.
    """
    notes = []
    pinned = single_group_genres(manifest, groups)
    for genre in pinned:
        notes.append(f"{genre}: all {int((manifest['genre'] == genre).sum())} tracks are one "
                     f"artist or duplicate group; kept in train (no unseen-artist test possible)")
    genre = manifest["genre"].to_numpy()
    assignment = pd.Series(["train"] * len(manifest), index=manifest.index, dtype=object)
    rows = np.flatnonzero(~manifest["genre"].isin(pinned).to_numpy())
    train, val, test = fractions
    for name, fraction in (("test", test), ("val", val / (train + val))):
        if fraction <= 0 or len(np.unique(groups[rows])) < 2:
            continue
        held = _hold_out(rows, genre, groups, fraction, seed)
        assignment.iloc[held] = name
        rows = np.setdiff1d(rows, held)
    # A genre with no training track at all cannot be learned: move its largest group.
    for genre in sorted(manifest["genre"].unique()):
        mine = (manifest["genre"] == genre).to_numpy()
        if not (assignment[mine] == "train").any():
            largest = pd.Series(groups[mine]).value_counts().index[0]
            assignment[groups == largest] = "train"
            notes.append(f"{genre}: no group fell in train; moved its largest group there")
    for genre in sorted(set(manifest["genre"]) - set(pinned)):
        mine = (manifest["genre"] == genre).to_numpy()
        got = assignment[mine].value_counts()
        missing = [s for s, f in zip(SPLITS, fractions, strict=True) if f > 0 and s not in got]
        if missing:
            notes.append(f"{genre}: no track in {' or '.join(missing)} ({int(mine.sum())} "
                         f"tracks in {len(np.unique(groups[mine]))} artist groups)")
    return assignment, notes


def stratified_split(manifest: pd.DataFrame, fractions: tuple[float, float, float],
                     seed: int) -> pd.Series:
    """Per-genre quotas by fractions; duplicate groups placed whole, then singles fill up."""
    rng = np.random.default_rng(seed)
    sizes = manifest["genre"].value_counts().sort_index().to_dict()
    need = {g: dict(zip(SPLITS, c, strict=True))
            for g, c in allocate(sizes, fractions, rng).items()}
    assignment = pd.Series([""] * len(manifest), index=manifest.index, dtype=object)
    groups = _duplicate_groups(manifest)
    order = rng.permutation(len(groups))
    multi = [groups[i] for i in order if len(groups[i]) > 1]
    singles = [groups[i][0] for i in order if len(groups[i]) == 1]
    for group in multi:
        members = manifest.loc[group, "genre"].tolist()
        # Place the group where its genres still need the most tracks.
        split = max(SPLITS, key=lambda s: sum(need[g][s] for g in members))
        for row, g in zip(group, members, strict=True):
            assignment[row] = split
            need[g][split] -= 1
    for row in singles:
        g = manifest.loc[row, "genre"]
        split = max(SPLITS, key=lambda s: (need[g][s], -SPLITS.index(s)))
        assignment[row] = split
        need[g][split] -= 1
    return assignment


def kfold_assign(manifest: pd.DataFrame, folds: int, seed: int,
                 group_by: str = "track") -> np.ndarray:
    """Fold number per row for k-fold cross-validation (-1: always in training).

    By track, each genre's tracks are dealt round-robin over the folds in a seeded order (so
    every fold gets its share of each genre), and byte-identical duplicates share a fold. By
    artist, `StratifiedGroupKFold` deals whole artist groups; a genre that is one group
    cannot be tested on an unseen artist and is kept in every fold's training set (-1).
    """
    if folds < 2:
        raise MusicGenreError(f"cross-validation needs at least 2 folds, got {folds}")
    manifest = manifest.reset_index(drop=True)
    if group_by == "artist" and has_artists(manifest):
        groups = track_groups(manifest, "artist")
        fold = np.full(len(manifest), -1)
        free = np.flatnonzero(~manifest["genre"].isin(single_group_genres(manifest, groups)))
        n_groups = len(np.unique(groups[free]))
        largest = int(manifest.loc[free, "genre"].value_counts().max()) if len(free) else 0
        if min(n_groups, largest) < folds:
            raise MusicGenreError(f"cross-validation by artist: {n_groups} artist groups and "
                                  f"at most {largest} tracks per genre can be tested, too few "
                                  f"for {folds} folds")
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for f, (_, test) in enumerate(splitter.split(free, manifest["genre"].to_numpy()[free],
                                                         groups[free])):
                fold[free[test]] = f
        return fold
    rng = np.random.default_rng(seed)
    fold = np.full(len(manifest), -1)
    load = {g: np.zeros(folds, dtype=int) for g in manifest["genre"].unique()}
    groups = _duplicate_groups(manifest)
    for gi in rng.permutation(len(groups)):
        members = groups[gi]
        genres = manifest["genre"].iloc[members].tolist()
        # The fold where these genres have the fewest tracks so far (ties: lowest number).
        target = int(np.argmin(sum(load[g] for g in genres) * folds + np.arange(folds)))
        fold[members] = target
        for g in genres:
            load[g][target] += 1
    return fold


def published_split(manifest: pd.DataFrame, method: str) -> pd.Series:
    """A published split, from the manifest's `source_split` (which the download stage
    filled in): FMA's own training/validation/test for `official`, the Kereliuk/Sturm lists
    for `fault-filtered`. Tracks without one get '' (excluded)."""
    assignment = manifest.get("source_split", pd.Series("", index=manifest.index))
    assignment = assignment.fillna("").astype(str)
    if not assignment.isin(SPLITS).any():
        if method == "fault-filtered":
            raise MusicGenreError(
                "split.method=fault-filtered: no track id of the manifest is in the published "
                "lists; this protocol only applies to GTZAN")
        raise MusicGenreError("split.method=official: no track has a published split; this "
                              "protocol needs a source that publishes one (data.source: fma)")
    return assignment.where(assignment.isin(SPLITS), "")


def make_split(manifest: pd.DataFrame, cfg: SplitConfig, seed: int
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (split table: id, genre, artist, split; per-genre count table).

    The count table's attrs carry `excluded` (tracks outside the published split), `group_by`
    (what was actually used: artist needs at least one known artist) and `notes` (where the
    requested fractions could not be met).
    """
    if manifest.empty:
        raise MusicGenreError("split: the manifest has no usable tracks")
    manifest = manifest.reset_index(drop=True)
    group_by = cfg.group_by if has_artists(manifest) else "track"
    notes: list[str] = []
    if cfg.group_by == "artist" and group_by == "track":
        notes.append("no track has a known artist: split by track")
    fractions = (cfg.train, cfg.val, cfg.test)
    if cfg.method in ("fault-filtered", "official"):  # fetched by the download stage
        assignment = published_split(manifest, cfg.method)
    elif group_by == "artist":
        assignment, more = grouped_split(manifest, fractions, seed,
                                         track_groups(manifest, "artist"))
        notes += more
    else:
        assignment = stratified_split(manifest, fractions, seed)
    artist = manifest["artist"] if "artist" in manifest else pd.Series([np.nan] * len(manifest))
    table = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                          "artist": artist.fillna("").astype(str), "md5": manifest.get("md5"),
                          "split": assignment})
    excluded = int((table["split"] == "").sum())
    table = table[table["split"] != ""].sort_values("id").reset_index(drop=True)
    counts = count_table(table)
    counts.attrs.update(excluded=excluded, group_by=group_by, notes=notes)
    return table, counts


def split_protocol(table: pd.DataFrame, cfg: SplitConfig, counts: pd.DataFrame) -> dict:
    """What a reader needs to trust the test number: how the split was made, and how many
    artists and duplicate groups cross between its parts (measured, not assumed)."""
    artists = table["artist"].map(artist_key) if "artist" in table else pd.Series(dtype=object)
    with_artist = table[artists.notna()].assign(key=artists[artists.notna()])
    sets = {s: set(with_artist.loc[with_artist["split"] == s, "key"]) for s in SPLITS}
    overlap = {f"{a}-{b}": len(sets[a] & sets[b])
               for a, b in (("train", "test"), ("train", "val"), ("val", "test"))}
    duplicates = crossing = 0
    if "md5" in table and table["md5"].notna().any():
        for _, rows in table.groupby("md5"):
            if len(rows) > 1:
                duplicates += 1
                crossing += int(rows["split"].nunique() > 1)
    return {
        "method": cfg.method, "group_by_requested": cfg.group_by,
        "group_by": counts.attrs.get("group_by", cfg.group_by),
        "fractions": {"train": cfg.train, "val": cfg.val, "test": cfg.test},
        "tracks": {s: int((table["split"] == s).sum()) for s in SPLITS},
        "tracks_with_artist": int(len(with_artist)),
        "artists": {s: len(sets[s]) for s in SPLITS},
        "artists_shared": overlap,
        "largest_artist_share": {s: _largest_share(table, with_artist, s)
                                 for s in ("val", "test")},
        "duplicate_groups": duplicates, "duplicate_groups_across_splits": crossing,
        "excluded": int(counts.attrs.get("excluded", 0)),
        "notes": list(counts.attrs.get("notes", [])),
    }


def _largest_share(table: pd.DataFrame, with_artist: pd.DataFrame, split: str) -> dict | None:
    """The artist with the most tracks in this part of the split, and its share of it."""
    tracks = int((table["split"] == split).sum())
    if not tracks or not (with_artist["split"] == split).any():
        return None
    counts = with_artist.loc[with_artist["split"] == split, "key"].value_counts()
    return {"artist": str(counts.index[0]), "tracks": int(counts.iloc[0]),
            "share": round(float(counts.iloc[0]) / tracks, 3)}


def count_table(table: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(table["genre"], table["split"]).reindex(columns=list(SPLITS),
                                                                 fill_value=0)
    counts["total"] = counts.sum(axis=1)
    counts.loc["total"] = counts.sum(axis=0)
    counts.columns.name = None
    return counts.reset_index().rename(columns={"index": "genre"})
