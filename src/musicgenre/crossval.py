"""K-fold cross-validation on a small labelled folder (e.g. the 50 GTZAN dev tracks).

A single test split of a few dozen tracks says little (a 10-track test set has a 95% interval
of about +/-30 points). Here every track is tested exactly once: for fold f, the tracks of fold
f are the test set, fold f+1 is the validation set for early stopping, the rest train. Features
(and the augmented copies of every track) are extracted once; each fold fits its own
normalisation on its own training tracks. Folds never split a track's segments.

With `refit` (the default) each fold then trains its final model on every non-test track:
neural models for the number of epochs early stopping chose on the validation fold, the
estimators (which have no epochs) directly. On 50 tracks this is 40 training tracks instead
of 30 (what that changed on the GTZAN dev tracks is in docs/results.md). The test fold is
never seen before it is scored: each fold records the tracks it fitted on and those it tested.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre import genres as genre_list
from musicgenre import models
from musicgenre.artists import artist_key, resolve_artists
from musicgenre.atomic import write_json
from musicgenre.config import DataConfig
from musicgenre.evaluate import predict_tracks
from musicgenre.features.build import extract_features
from musicgenre.features.store import RunningStats, load_meta, load_split
from musicgenre.inference import load_classifier
from musicgenre.metrics import wilson_interval
from musicgenre.split import kfold_assign, single_group_genres, track_groups
from musicgenre.train import TrainingData, fit_model
from musicgenre.validate import scan_folder


def _subset(x: np.ndarray, index: pd.DataFrame, mask: np.ndarray):
    rows = index.index[mask].to_numpy()
    sub = index.loc[mask].reset_index(drop=True)
    sub["row"] = np.arange(len(sub))
    return np.asarray(x[rows]), sub


def _training_data(x_all, idx_all, train_mask, val_mask, meta) -> TrainingData:
    """Segments of the masked tracks, normalised by statistics of the training tracks only
    (embeddings, [n, dim], are standardised inside the model that reads them instead)."""
    x_tr, i_tr = _subset(x_all, idx_all, train_mask)
    x_va, i_va = _subset(x_all, idx_all, val_mask)
    if x_tr.ndim == 2:
        return TrainingData(x_tr, i_tr, x_va, i_va, meta)
    stats = RunningStats(x_tr.shape[1])
    stats.add(x_tr)
    mean, std = stats.result()
    return TrainingData(x_tr, i_tr, x_va, i_va, {**meta, "mean": mean.tolist(),
                                                 "std": std.tolist()})


def _score_tracks(model_dir: Path, x_test: np.ndarray, idx_test: pd.DataFrame) -> pd.DataFrame:
    """The saved model's test-track predictions, scored as the evaluate stage does:
    track_id, true_genre, predicted_genre."""
    tracks, _ = predict_tracks(load_classifier(model_dir), x_test, idx_test)
    return tracks[["track_id", "true_genre", "predicted_genre"]]


def _right(tracks: pd.DataFrame) -> pd.Series:
    return tracks["true_genre"] == tracks["predicted_genre"]


def with_artists(manifest: pd.DataFrame, genres_dir: Path, data_cfg,
                 local_index: Path | None = None) -> pd.DataFrame:
    """The manifest with an `artist` column (see `artists.py`; None where unknown)."""
    root = Path(genres_dir)
    tracks = [{"id": row.id, "path": Path(row.path),
               "original": Path(row.path).relative_to(root).as_posix()}
              for row in manifest.itertuples()]
    found = resolve_artists(tracks, root, data_cfg, local_index)
    return manifest.assign(artist=[artist for artist, _ in found])


def fold_protocol(manifest: pd.DataFrame, fold: np.ndarray, group_by: str) -> dict:
    """How the folds were made and what that means for reading the scores."""
    groups = track_groups(manifest, group_by)
    keys = manifest["artist"].map(artist_key) if "artist" in manifest else None
    shared = 0  # artists with tracks both in a fold's test set and its training folds
    if keys is not None:
        for f in range(int(fold.max()) + 1):
            test = set(keys[fold == f].dropna())
            shared += len(test & set(keys[fold != f].dropna()))
    return {"group_by": group_by,
            "tracks_with_artist": int(keys.notna().sum()) if keys is not None else 0,
            "groups": int(len(np.unique(groups))),
            "never_tested_genres": single_group_genres(manifest, groups)
            if group_by == "artist" else [],
            "tracks_never_tested": int((fold < 0).sum()),
            "artists_shared_test_train": shared}


def cross_validate(genres_dir: Path, params: dict, names: list[str], folds: int = 5,
                   progress: bool = True, work_dir: Path | None = None,
                   partial_out: Path | None = None, refit: bool = True,
                   group_by: str = "artist", local_index: Path | None = None) -> dict:
    """Track-level test accuracy of each named model on each fold; params as load_params
    gives (with `data` when grouping by artist)."""
    seed = params["seed"]
    manifest = scan_folder(genres_dir, progress=progress)
    # genres: auto = the folder's genres (where this folder's audio came from is unknown)
    genres = genre_list.resolve(params["genres"], sorted(manifest["genre"].unique()))
    manifest = manifest[manifest["readable"] & manifest["genre"].isin(genres)]
    manifest = manifest.reset_index(drop=True)
    if group_by == "artist":
        manifest = with_artists(manifest, genres_dir, params.get("data", DataConfig()),
                                local_index)
        if not manifest["artist"].notna().any():
            group_by = "track"  # nothing to group by; the protocol says so
    fold_number = kfold_assign(manifest, folds, seed, group_by)
    protocol = fold_protocol(manifest, fold_number, group_by)
    fold_of = dict(zip(manifest["id"], fold_number, strict=True))
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        tmp = Path(tmp)
        everything = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                                   "split": "train"})
        features = params["features"]
        embedded = any(models.get(name).uses_embeddings for name in names)
        if not embedded:
            features = replace(features, embedding=None)  # nothing would read them
        extract_features(manifest, everything, genres, features, params["augment"],
                         seed, tmp / "features", progress=progress)
        # per kind of input (embeddings or not): segments and their index (without
        # features.embed_augmented the embeddings cover the originals' segments only)
        inputs = {False: load_split(tmp / "features", "train")}
        if embedded:
            inputs[True] = load_split(tmp / "features", "train", embeddings=True)
        meta = load_meta(tmp / "features")
        idx_all = inputs[False][1]
        track_fold = idx_all["track_id"].map(fold_of).to_numpy()
        per_fold, predictions = [], []
        for f in range(folds):
            val_fold = (f + 1) % folds
            if not (track_fold == f).any():
                continue
            fold_data = {}  # per kind of input: (selection, final, x_test, test index)
            for name in names:
                spec = models.get(name)
                kind = spec.uses_embeddings
                if kind not in fold_data:
                    x_all, idx = inputs[kind]
                    fold = idx["track_id"].map(fold_of).to_numpy()
                    original = (idx["copy"] == 0).to_numpy()
                    val_mask = (fold == val_fold) & original
                    fold_data[kind] = (
                        _training_data(x_all, idx, (fold != f) & (fold != val_fold), val_mask,
                                       meta),
                        _training_data(x_all, idx, fold != f, val_mask, meta)
                        if refit else None,
                        *_subset(x_all, idx, (fold == f) & original))
                selection, final, x_te, i_te = fold_data[kind]
                out = tmp / f"fold{f}" / name
                if refit and not spec.is_neural:  # no epochs to choose: fit the final model
                    fit_model(spec, params, final, out, out / "live", progress)
                    fitted_on, epochs = final, {}
                else:
                    summary = fit_model(spec, params, selection, out, out / "live", progress)
                    fitted_on, epochs = selection, {"best_epoch": summary.get("best_epoch")}
                    if refit:
                        before = _score_tracks(out, x_te, i_te)
                        epochs["correct_before_refit"] = int(_right(before).sum())
                        out = tmp / f"fold{f}" / f"{name}-refit"
                        fit_model(spec, params, final, out, out / "live", progress,
                                  summary["best_epoch"])
                        fitted_on = final
                tracks = _score_tracks(out, x_te, i_te)
                right = _right(tracks)
                correct = int(right.sum())
                # The tracks read by the fit that made the scored model (training and, for
                # early stopping, validation), taken from the data it was given.
                seen = sorted(set(fitted_on.idx_train["track_id"])
                              | set(fitted_on.idx_val["track_id"]))
                record = {"fold": f, "model": name, "test_tracks": len(tracks),
                          "train_tracks": int(fitted_on.idx_train["track_id"].nunique()),
                          **epochs, "correct": correct, "accuracy": correct / len(tracks),
                          "tested": tracks["track_id"].tolist(), "seen": seen,
                          "wrong": tracks[~right].to_dict("records")}
                predictions.append(tracks.assign(model=name))
                per_fold.append(record)
                if progress:
                    print(f"crossval: fold {f + 1}/{folds} {name} "
                          f"(trained on {record['train_tracks']} tracks): "
                          f"{correct}/{len(tracks)} test tracks right", flush=True)
                if partial_out is not None:  # a long run keeps what it has finished
                    write_crossval({"folds": folds, "done": per_fold}, partial_out)
    table = pd.DataFrame(per_fold)
    summary = {}
    for name, rows in table.groupby("model", sort=False):
        n, k = int(rows["test_tracks"].sum()), int(rows["correct"].sum())
        low, high = wilson_interval(k, n)
        summary[name] = {"mean_fold_accuracy": float(rows["accuracy"].mean()),
                         "std_fold_accuracy": float(rows["accuracy"].std(ddof=1)),
                         "pooled_accuracy": k / n, "tracks": n, "correct": k,
                         "ci95_wilson": [low, high]}
    scored = pd.concat(predictions, ignore_index=True)
    scored["right"] = _right(scored)
    for name, rows in scored.groupby("model", sort=False):
        recall = rows.groupby("true_genre")["right"].mean()
        summary[name]["genre_recall"] = {g: float(recall[g]) for g in genres if g in recall}
    # Tracks no model gets right point at the data (too few similar training tracks, or a
    # doubtful label) rather than at any one architecture.
    any_right = scored.groupby("track_id")["right"].any()
    return {"folds": folds, "tracks": len(manifest), "seed": seed, "refit": refit,
            "protocol": protocol, "summary": summary,
            "paired": paired_comparison(scored),
            "wrong_for_every_model": sorted(any_right.index[~any_right]), "per_fold": per_fold}


def paired_comparison(scored: pd.DataFrame) -> list[dict]:
    """Every pair of models on the same test tracks: how many tracks only one of them gets
    right, and the exact McNemar p-value (two-sided binomial test on those discordant tracks).
    Comparing against a figure measured on other tracks is not a comparison."""
    from scipy.stats import binomtest

    right = scored.pivot_table(index="track_id", columns="model", values="right",
                               aggfunc="first")
    names = list(dict.fromkeys(scored["model"]))
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = right[[a, b]].dropna().astype(bool)
            only_a = int((both[a] & ~both[b]).sum())
            only_b = int((both[b] & ~both[a]).sum())
            discordant = only_a + only_b
            p = binomtest(only_a, discordant).pvalue if discordant else 1.0
            pairs.append({"a": a, "b": b, "tracks": int(len(both)), "only_a_right": only_a,
                          "only_b_right": only_b, "mcnemar_exact_p": float(p)})
    return pairs


def format_crossval(result: dict) -> str:
    protocol = ("final models refit on all non-test tracks" if result["refit"]
                else "final models trained without the validation fold")
    proto = result.get("protocol", {"group_by": "track"})
    grouping = {"artist": "by artist (no artist in both a test fold and its training folds)",
                "track": "by track (artists ignored: a test track's artist may be in training)"}
    lines = [f"{result['folds']}-fold cross-validation {grouping[proto['group_by']]} on "
             f"{result['tracks']} tracks (seed {result['seed']}; {protocol})"]
    if proto.get("never_tested_genres"):
        lines.append(f"Never tested (all tracks one artist, kept in training): "
                     f"{', '.join(proto['never_tested_genres'])} "
                     f"({proto['tracks_never_tested']} tracks)")
    if "artists_shared_test_train" in proto:
        lines.append(f"Artists shared between a test fold and its training folds: "
                     f"{proto['artists_shared_test_train']} "
                     f"({proto['tracks_with_artist']} tracks with a known artist)")
    lines += ["", "| model | correct per fold | mean fold accuracy | std over folds "
              "| pooled accuracy [95% Wilson] |", "|---|---|---|---|---|"]
    for name, s in result["summary"].items():
        correct = ", ".join(f"{r['correct']}/{r['test_tracks']}" for r in result["per_fold"]
                            if r["model"] == name)
        low, high = s["ci95_wilson"]
        lines.append(f"| {name} | {correct} | {s['mean_fold_accuracy']:.3f} "
                     f"| {s['std_fold_accuracy']:.3f} "
                     f"| {s['pooled_accuracy']:.3f} [{low:.3f}, {high:.3f}] |")
    names = list(result["summary"])
    lines += ["", "| genre (recall over all folds) | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    for genre in result["summary"][names[0]]["genre_recall"]:
        lines.append(f"| {genre} | " + " | ".join(
            f"{result['summary'][n]['genre_recall'][genre]:.2f}" for n in names) + " |")
    if result.get("paired"):
        lines += ["", "| paired, same test tracks | only first right | only second right "
                  "| McNemar exact p |", "|---|---|---|---|"]
        for pair in result["paired"]:
            lines.append(f"| {pair['a']} vs {pair['b']} ({pair['tracks']} tracks) "
                         f"| {pair['only_a_right']} | {pair['only_b_right']} "
                         f"| {pair['mcnemar_exact_p']:.3f} |")
    wrong = result["wrong_for_every_model"]
    lines += ["", f"Tracks no model got right ({len(wrong)}): {', '.join(wrong) or 'none'}"]
    return "\n".join(lines)


def write_crossval(result: dict, path: Path) -> None:
    write_json(path, result)  # rewritten after each fold
