"""The split stage: track-level train/val/test assignment.

Splitting is by track, never by segment (segment leakage inflates GTZAN accuracy by 5-15
points), and byte-identical tracks (same md5; GTZAN has 14 such pairs, some across genres) are
always put in the same split, so a duplicate can never leak a test track into training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.atomic import atomic_path
from musicgenre.config import SplitConfig
from musicgenre.download import fetch
from musicgenre.errors import MusicGenreError

SPLITS = ("train", "val", "test")
FAULT_FILTERED_FILES = {"train": "train_filtered.txt", "val": "valid_filtered.txt",
                        "test": "test_filtered.txt"}


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


def kfold_assign(manifest: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """Fold number per row for k-fold cross-validation by track.

    Each genre's tracks are dealt round-robin over the folds in a seeded order (so every fold
    gets its share of each genre), and byte-identical duplicates share a fold.
    """
    if folds < 2:
        raise MusicGenreError(f"cross-validation needs at least 2 folds, got {folds}")
    rng = np.random.default_rng(seed)
    fold = np.full(len(manifest), -1)
    load = {g: np.zeros(folds, dtype=int) for g in manifest["genre"].unique()}
    groups = _duplicate_groups(manifest.reset_index(drop=True))
    for gi in rng.permutation(len(groups)):
        members = groups[gi]
        genres = manifest["genre"].iloc[members].tolist()
        # The fold where these genres have the fewest tracks so far (ties: lowest number).
        target = int(np.argmin(sum(load[g] for g in genres) * folds + np.arange(folds)))
        fold[members] = target
        for g in genres:
            load[g][target] += 1
    return fold


def load_fault_filtered_lists(cfg: SplitConfig, cache_dir: Path,
                              progress: bool = False) -> dict[str, list[str]]:
    """Fetch the Kereliuk/Sturm lists (verified by sha256); return split -> track ids."""
    lists = {}
    for split, name in FAULT_FILTERED_FILES.items():
        path = fetch([base.rstrip("/") + "/" + name for base in cfg.fault_filtered.base_urls],
                     Path(cache_dir) / "gtzan-fault-filtered" / name,
                     sha256=cfg.fault_filtered.sha256[name], progress=progress)
        lists[split] = [Path(line.strip()).stem for line in path.read_text().splitlines()
                        if line.strip()]
    return lists


def fault_filtered_split(manifest: pd.DataFrame, lists: dict[str, list[str]]) -> pd.Series:
    """Assign tracks listed in the published split; unlisted tracks get '' (excluded)."""
    where = {track: split for split, ids in lists.items() for track in ids}
    assignment = manifest["id"].map(where).fillna("")
    if not (assignment != "").any():
        raise MusicGenreError(
            "split.method=fault-filtered: no track id of the manifest is in the published "
            "lists; this protocol only applies to GTZAN"
        )
    return assignment


def make_split(manifest: pd.DataFrame, cfg: SplitConfig, seed: int,
               cache_dir: Path = Path("data/external")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (split table: id, genre, split; per-genre count table)."""
    if manifest.empty:
        raise MusicGenreError("split: the manifest has no usable tracks")
    manifest = manifest.reset_index(drop=True)
    if cfg.method == "stratified":
        assignment = stratified_split(manifest, (cfg.train, cfg.val, cfg.test), seed)
    else:
        assignment = fault_filtered_split(manifest, load_fault_filtered_lists(cfg, cache_dir))
    table = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                          "split": assignment})
    excluded = int((table["split"] == "").sum())
    table = table[table["split"] != ""].sort_values("id").reset_index(drop=True)
    counts = count_table(table)
    counts.attrs["excluded"] = excluded
    return table, counts


def count_table(table: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(table["genre"], table["split"]).reindex(columns=list(SPLITS),
                                                                 fill_value=0)
    counts["total"] = counts.sum(axis=1)
    counts.loc["total"] = counts.sum(axis=0)
    counts.columns.name = None
    return counts.reset_index().rename(columns={"index": "genre"})


def write_split(table: pd.DataFrame, counts: pd.DataFrame, split_path: Path,
                counts_path: Path) -> None:
    for frame, path in ((table, split_path), (counts, counts_path)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)


def read_split(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise MusicGenreError(f"{path}: split not found; run the split stage first") from None
