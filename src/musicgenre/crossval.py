"""K-fold cross-validation by track on a small labelled folder (e.g. the 50 GTZAN dev tracks).

A single test split of a few dozen tracks says little (a 10-track test set has a 95% interval
of about +/-30 points). Here every track is tested exactly once: for fold f, the tracks of fold
f are the test set, fold f+1 is the validation set for early stopping, the rest train. Features
(and the augmented copies of every track) are extracted once; each fold fits its own
normalisation on its own training tracks. Folds never split a track's segments.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.atomic import write_text_atomic
from musicgenre.features import RunningStats, extract_features, load_meta, load_split
from musicgenre.inference import load_classifier
from musicgenre.split import kfold_assign
from musicgenre.train import TrainingData, train_baseline, train_neural
from musicgenre.validate import scan_folder


def _subset(x: np.ndarray, index: pd.DataFrame, mask: np.ndarray):
    rows = index.index[mask].to_numpy()
    sub = index.loc[mask].reset_index(drop=True)
    sub["row"] = np.arange(len(sub))
    return np.asarray(x[rows]), sub


def cross_validate(genres_dir: Path, params: dict, models: list[str], folds: int = 5,
                   progress: bool = True, work_dir: Path | None = None,
                   partial_out: Path | None = None) -> dict:
    """Track-level test accuracy of each model on each fold; params as load_params gives."""
    seed, genres = params["seed"], params["genres"]
    manifest = scan_folder(genres_dir, progress=progress)
    manifest = manifest[manifest["readable"] & manifest["genre"].isin(genres)]
    manifest = manifest.reset_index(drop=True)
    fold_of = dict(zip(manifest["id"], kfold_assign(manifest, folds, seed), strict=True))
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        tmp = Path(tmp)
        everything = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                                   "split": "train"})
        extract_features(manifest, everything, genres, params["features"], params["augment"],
                         seed, tmp / "features", progress=progress)
        x_all, idx_all = load_split(tmp / "features", "train")
        meta = load_meta(tmp / "features")
        track_fold = idx_all["track_id"].map(fold_of).to_numpy()
        original = (idx_all["copy"] == 0).to_numpy()
        per_fold = []
        for f in range(folds):
            val_fold = (f + 1) % folds
            train_mask = (track_fold != f) & (track_fold != val_fold)
            x_tr, i_tr = _subset(x_all, idx_all, train_mask)
            x_va, i_va = _subset(x_all, idx_all, (track_fold == val_fold) & original)
            x_te, i_te = _subset(x_all, idx_all, (track_fold == f) & original)
            stats = RunningStats(x_tr.shape[1])
            stats.add(x_tr)
            mean, std = stats.result()
            fold_meta = {**meta, "mean": mean.tolist(), "std": std.tolist()}
            data = TrainingData(x_tr, i_tr, x_va, i_va, fold_meta)
            truth = i_te.groupby("track_id")["label"].first()
            for name in models:
                out = tmp / f"fold{f}" / name
                if name == "baseline":
                    train_baseline(params["baseline"], seed, data, out, out / "live")
                else:
                    train_neural(name, params[name], params["train"], seed, data, out,
                                 out / "live", progress=progress)
                classifier = load_classifier(out)
                predicted = {tid: int(np.argmax(classifier.track_log_probs(
                    x_te[i_te.index[i_te["track_id"] == tid]]))) for tid in truth.index}
                correct = sum(predicted[t] == truth[t] for t in truth.index)
                per_fold.append({"fold": f, "model": name, "test_tracks": len(truth),
                                 "correct": int(correct), "accuracy": correct / len(truth)})
                if progress:
                    print(f"crossval: fold {f + 1}/{folds} {name}: "
                          f"{correct}/{len(truth)} test tracks right", flush=True)
                if partial_out is not None:  # a long run keeps what it has finished
                    write_crossval({"folds": folds, "done": per_fold}, partial_out)
    table = pd.DataFrame(per_fold)
    summary = {}
    for name, rows in table.groupby("model", sort=False):
        n, k = int(rows["test_tracks"].sum()), int(rows["correct"].sum())
        pooled = k / n
        summary[name] = {"mean_fold_accuracy": float(rows["accuracy"].mean()),
                         "std_fold_accuracy": float(rows["accuracy"].std(ddof=1)),
                         "pooled_accuracy": pooled, "tracks": n,
                         "ci95": 1.96 * float(np.sqrt(pooled * (1 - pooled) / n))}
    return {"folds": folds, "tracks": len(manifest), "seed": seed, "summary": summary,
            "per_fold": per_fold}


def format_crossval(result: dict) -> str:
    lines = [f"{result['folds']}-fold cross-validation by track on {result['tracks']} tracks "
             f"(seed {result['seed']})", "",
             "| model | mean fold accuracy | std over folds | pooled accuracy (95% CI) |",
             "|---|---|---|---|"]
    for name, s in result["summary"].items():
        lines.append(f"| {name} | {s['mean_fold_accuracy']:.3f} | {s['std_fold_accuracy']:.3f}"
                     f" | {s['pooled_accuracy']:.3f} +/- {s['ci95']:.3f} |")
    return "\n".join(lines)


def write_crossval(result: dict, path: Path) -> None:
    write_text_atomic(path, json.dumps(result, indent=2) + "\n")  # rewritten after each fold
