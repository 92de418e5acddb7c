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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre import models
from musicgenre.core.atomic import write_json
from musicgenre.core.errors import MusicGenreError
from musicgenre.core.metrics import wilson_interval
from musicgenre.data import genres as genre_list
from musicgenre.data.artists import artist_key, resolve_artists
from musicgenre.data.config import DataConfig
from musicgenre.data.split import kfold_assign, single_group_genres, track_groups
from musicgenre.data.validate import scan_folder
from musicgenre.features.build import extract_features
from musicgenre.features.store import RunningStats, load_meta, load_split
from musicgenre.inference.classifier import UNKNOWN
from musicgenre.inference.scoring import predict_tracks
from musicgenre.training.data import TrainingData
from musicgenre.training.fit import fit_model


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


def _test_predictions(classifier, x_test: np.ndarray, idx_test: pd.DataFrame) -> pd.DataFrame:
    """The fitted model's test-track predictions, scored as the evaluate stage does:
    track_id, true_genre, predicted_genre and the calibrated top probability."""
    tracks, _ = predict_tracks(classifier, x_test, idx_test)
    proba = tracks[[f"p_{g}" for g in classifier.genres]].to_numpy()
    rows = idx_test.reset_index(drop=True).groupby("track_id", sort=True).indices
    distances = [classifier.novelty_distance(x_test[rows[t]]) for t in tracks["track_id"]]
    labels = [classifier.label(p, d) for p, d in zip(proba, distances, strict=True)]
    return tracks[["track_id", "true_genre", "predicted_genre"]].assign(
        top_probability=proba.max(axis=1), unknown=[lab == UNKNOWN for lab in labels])


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


@dataclass
class CrossvalSettings:
    """How the folds are made and run (the CLI's options)."""

    folds: int = 5
    refit: bool = True  # each fold's final model trains on every non-test track
    group_by: str = "artist"  # artist | track
    local_index: Path | None = None  # a local copy of Sturm's GTZAN artist index
    work_dir: Path | None = None  # where the temporary features and models go
    partial_out: Path | None = None  # rewritten after each fold, so a long run keeps its work
    progress: bool = True
    seeds: list[int] | None = None  # one fold assignment per seed (None: params' seed)
    excerpts_s: list[float] | None = None  # the first model on excerpts of these lengths
    study: bool = False  # also the nested representation study (evaluation/probes.py)
    robustness: object = None  # a RobustnessConfig: the first model under its conditions
    figures_dir: Path | None = None  # PNG figures of the excerpt and robustness results


@dataclass
class FoldData:
    """One fold's data for one kind of model input (features or embeddings)."""

    selection: TrainingData  # training folds, with the validation fold for early stopping
    final: TrainingData | None  # every non-test track (refit), validation fold as before
    x_test: np.ndarray
    idx_test: pd.DataFrame


def cross_validate(genres_dirs: Path | list[Path], params: dict, names: list[str],
                   settings: CrossvalSettings | None = None) -> dict:
    """Track-level test accuracy of each named model on each fold, for each seed's folds;
    params as load_params gives (with `data` when grouping by artist). `genres_dirs`: one or
    several <genre>/<file> folders, pooled (track ids must not repeat across them).

    Why this long: one loop over seeds, folds and models that also hands each fold's first
    model to the optional analyses (excerpts, unknown, robustness) while it is in memory;
    split up, each part would need the loop's whole state.
    """
    settings = settings or CrossvalSettings()
    dirs = [Path(genres_dirs)] if isinstance(genres_dirs, str | Path) else list(genres_dirs)
    manifest, genres, group_by = _crossval_tracks(dirs, params, settings)
    seeds = list(settings.seeds or [params["seed"]])
    per_fold, predictions, excerpts, unknown, conditions = [], [], [], [], []
    with tempfile.TemporaryDirectory(dir=settings.work_dir) as tmp:
        inputs, meta = _extract_once(manifest, genres, params, names, Path(tmp) / "features",
                                     settings.progress)
        for seed in seeds:
            fold_number = kfold_assign(manifest, settings.folds, seed, group_by)
            fold_of = dict(zip(manifest["id"], fold_number, strict=True))
            track_fold = inputs[False][1]["track_id"].map(fold_of).to_numpy()
            for f in range(settings.folds):
                if not (track_fold == f).any():
                    continue
                fold_data = {kind: _fold_data(*inputs[kind], fold_of, f, settings, meta)
                             for kind in {models.get(name).uses_embeddings for name in names}}
                for name in names:
                    spec = models.get(name)
                    record, tracks, classifier = _fit_and_score(
                        spec, params, fold_data[spec.uses_embeddings],
                        Path(tmp) / f"seed{seed}-fold{f}", settings)
                    per_fold.append({"seed": seed, "fold": f, **record})
                    predictions.append(tracks.assign(model=name, seed=seed))
                    if settings.excerpts_s and seed == seeds[0] and name == names[0]:
                        excerpts.append(excerpt_predictions(
                            classifier, manifest[manifest["id"].isin(record["tested"])],
                            settings.excerpts_s))
                        unknown.append(_unknown_record(classifier, tracks, f))
                    if settings.robustness is not None and seed == seeds[0] \
                            and name == names[0]:
                        conditions.append(_conditions(
                            classifier, manifest[manifest["id"].isin(record["tested"])],
                            settings.robustness, seed))
                    _report_fold(settings, seed, f, record, per_fold)
    scored = pd.concat(predictions, ignore_index=True)
    scored["right"] = _right(scored)
    # Tracks no model gets right point at the data (too few similar training tracks, or a
    # doubtful label) rather than at any one architecture.
    any_right = scored.groupby("track_id")["right"].any()
    result = {"folds": settings.folds, "tracks": len(manifest), "seed": seeds[0],
              "seeds": seeds, "data": [str(d) for d in dirs],
              "refit": settings.refit,
              "protocol": fold_protocol(manifest, kfold_assign(manifest, settings.folds,
                                                               seeds[0], group_by), group_by),
              "summary": summarise_folds(pd.DataFrame(per_fold), scored, genres),
              "paired": paired_comparison(scored[scored["seed"] == seeds[0]]),
              "wrong_for_every_model": sorted(any_right.index[~any_right]),
              "per_fold": per_fold}
    if excerpts:
        result["excerpts"] = excerpt_summary(pd.concat(excerpts, ignore_index=True), names[0])
        result["unknown"] = unknown

    if conditions:
        result["robustness"] = _condition_summary(conditions, genres, names[0])
    if settings.figures_dir is not None:
        _figures(result, Path(settings.figures_dir))
    if settings.study:
        from musicgenre.evaluation.probes import nested_study, study_segments

        segments = study_segments(manifest, params["features"], settings.progress)
        result["study"] = nested_study(segments, manifest, seeds, settings.folds,
                                       progress=settings.progress)
    return result


def _report_fold(settings: CrossvalSettings, seed: int, f: int, record: dict,
                 per_fold: list[dict]) -> None:
    if settings.progress:
        print(f"crossval: seed {seed} fold {f + 1}/{settings.folds} {record['model']} "
              f"(trained on {record['train_tracks']} tracks): "
              f"{record['correct']}/{record['test_tracks']} test tracks right", flush=True)
    if settings.partial_out is not None:
        write_crossval({"folds": settings.folds, "done": per_fold}, settings.partial_out)


def _conditions(classifier, tracks: pd.DataFrame, cfg, seed: int) -> pd.DataFrame:
    """The fold model's label for each of its test tracks under each robustness condition."""
    from musicgenre.evaluation.robustness import perturbations, predict_conditions, use_classifier

    use_classifier(classifier, cfg, seed)
    names = list(perturbations(cfg))
    rows = []
    for track in tracks.itertuples():
        labels = predict_conditions((str(track.path), track.id))
        rows += [{"track_id": track.id, "true": classifier.genres.index(track.genre),
                  "condition": n, "predicted": k} for n, k in zip(names, labels, strict=True)]
    return pd.DataFrame(rows)


def _condition_summary(parts: list[pd.DataFrame], genres: list[str], model: str) -> dict:
    from musicgenre.evaluation.robustness import condition_table

    table = pd.concat(parts, ignore_index=True)
    names = list(dict.fromkeys(table["condition"]))
    wide = table.pivot(index="track_id", columns="condition", values="predicted")[names]
    truth = table.groupby("track_id")["true"].first().reindex(wide.index).to_numpy()
    summary = condition_table(names, wide.to_numpy(), truth, genres)
    # per track, so that two runs (before and after an augmentation change) can be paired
    predicted = {track: {n: genres[int(k)] for n, k in row.items()}
                 for track, row in wide.iterrows()}
    return {"model": model, "conditions": summary.to_dict("records"), "predicted": predicted}


def _figures(result: dict, figures: Path) -> None:
    from musicgenre.evaluation import plots

    if result.get("excerpts"):
        plots.excerpt_curve(result["excerpts"]["lengths"], result["excerpts"]["model"],
                            figures / "excerpts.png")
    if result.get("robustness"):
        plots.robustness_bars(pd.DataFrame(result["robustness"]["conditions"]),
                              result["robustness"]["model"], figures / "robustness.png",
                              "cross-validation test tracks")


def _unknown_record(classifier, tracks: pd.DataFrame, fold: int) -> dict:
    """The fold model's unknown threshold against its real test tracks (false rejects) and
    the generated non-music probes (evaluation/unknown.py)."""
    from musicgenre.evaluation.unknown import probe_answers

    answers = probe_answers(classifier, seed=fold)
    return {"fold": fold, "unknown_below": classifier.unknown_below,
            "test_tracks": len(tracks),
            "false_rejects": int(tracks["unknown"].sum()),
            "probes": answers}


def excerpt_predictions(classifier, tracks: pd.DataFrame, lengths_s: list[float],
                        offsets: int = 3) -> pd.DataFrame:
    """The fold's model on excerpts of its test tracks: for each length, `offsets` excerpts
    at fixed, evenly spaced starts (the same for every model and length), each classified
    from its audio as predict does (short ones repeated to fill a segment)."""
    from musicgenre.data.audio import load_audio
    from musicgenre.inference.predict import predict_audio

    sr = classifier.features.sample_rate
    rows = []
    for track in tracks.itertuples():
        audio, _ = load_audio(Path(track.path), sr)
        truth = classifier.genres.index(track.genre)
        for length in lengths_s:
            span = min(int(length * sr), len(audio))
            for start in np.unique(np.linspace(0, len(audio) - span, offsets).astype(int)):
                said = predict_audio(classifier, [audio[start:start + span]])
                rows.append({"track_id": track.id, "length_s": length, "start": int(start),
                             "true": truth, "predicted": int(np.argmax(said.proba)),
                             "unknown": said.label == UNKNOWN,
                             "confidence": float(said.proba.max()), "proba": said.proba})
    return pd.DataFrame(rows)


def excerpt_summary(table: pd.DataFrame, model: str) -> dict:
    """Accuracy (with its Wilson interval over excerpts) and ECE per excerpt length."""
    from musicgenre.core.metrics import expected_calibration_error

    out = {"model": model, "lengths": []}
    for length, rows in table.groupby("length_s"):
        right = int((rows["true"] == rows["predicted"]).sum())
        low, high = wilson_interval(right, len(rows))
        out["lengths"].append({
            "length_s": float(length), "excerpts": len(rows), "accuracy": right / len(rows),
            "ci95_wilson": [low, high], "unknown": float(rows["unknown"].mean()),
            "ece": float(expected_calibration_error(np.stack(rows["proba"]),
                                                    rows["true"].to_numpy()))})
    return out


def _crossval_tracks(genres_dirs: list[Path], params: dict, settings: CrossvalSettings
                     ) -> tuple[pd.DataFrame, list[str], str]:
    """The folders' readable tracks of the chosen genres (with artists when grouping by
    artist), the genres, and the grouping actually possible."""
    parts = []
    for genres_dir in genres_dirs:
        part = scan_folder(genres_dir, progress=settings.progress)
        if settings.group_by == "artist":
            part = with_artists(part, genres_dir, params.get("data", DataConfig()),
                                settings.local_index)
        parts.append(part)
    manifest = pd.concat(parts, ignore_index=True)
    repeated = manifest["id"][manifest["id"].duplicated()].tolist()
    if repeated:
        raise MusicGenreError(f"--data: track {repeated[0]} is in more than one folder; "
                              f"each track may be tested once")
    # genres: auto = the folders' genres (where this audio came from is unknown)
    genres = genre_list.resolve(params["genres"], sorted(manifest["genre"].unique()))
    manifest = manifest[manifest["readable"] & manifest["genre"].isin(genres)]
    manifest = manifest.reset_index(drop=True)
    group_by = settings.group_by
    if group_by == "artist":
        if not manifest["artist"].notna().any():
            group_by = "track"  # nothing to group by; the protocol says so
    return manifest, genres, group_by


def _extract_once(manifest: pd.DataFrame, genres: list[str], params: dict, names: list[str],
                  out: Path, progress: bool) -> tuple[dict, dict]:
    """Features (and the augmented copies) of every track, extracted once for all folds.
    Returns, per kind of input (embeddings or not), the segments and their index (without
    features.embed_augmented the embeddings cover the originals' segments only), and the
    feature metadata."""
    everything = pd.DataFrame({"id": manifest["id"], "genre": manifest["genre"],
                               "split": "train"})
    features = params["features"]
    embedded = any(models.get(name).uses_embeddings for name in names)
    if not embedded:
        features = replace(features, embedding=None)  # nothing would read them
    extract_features(manifest, everything, genres, features, params["augment"],
                     params["seed"], out, progress=progress)
    inputs = {False: load_split(out, "train")}
    if embedded:
        inputs[True] = load_split(out, "train", embeddings=True)
    return inputs, load_meta(out)


def _fold_data(x_all: np.ndarray, idx: pd.DataFrame, fold_of: dict, f: int,
               settings: CrossvalSettings, meta: dict) -> FoldData:
    """Fold f is the test set, fold f+1 validates (early stopping), the rest train; the test
    and validation sets hold original segments only, never augmented copies."""
    fold = idx["track_id"].map(fold_of).to_numpy()
    val_fold = (f + 1) % settings.folds
    original = (idx["copy"] == 0).to_numpy()
    val_mask = (fold == val_fold) & original
    selection = _training_data(x_all, idx, (fold != f) & (fold != val_fold), val_mask, meta)
    final = _training_data(x_all, idx, fold != f, val_mask, meta) if settings.refit else None
    return FoldData(selection, final, *_subset(x_all, idx, (fold == f) & original))


def _fit_and_score(spec, params: dict, data: FoldData, fold_dir: Path,
                   settings: CrossvalSettings) -> tuple[dict, pd.DataFrame, object]:
    """Fit one model for one fold (refit as the settings say) and score its test tracks;
    returns the fold's record, the test predictions and the scored classifier."""
    out = fold_dir / spec.name
    progress = settings.progress
    epochs: dict = {}
    if settings.refit and not spec.is_neural:  # no epochs to choose: fit the final model
        classifier, fitted_on = fit_model(spec, params, data.final, out, out / "live",
                                          progress), data.final
        # Its validation fold is among its training tracks now: calibrate it as the same
        # model fitted without them calibrated itself on them.
        held_out = fit_model(spec, params, data.selection, fold_dir / f"{spec.name}-calib",
                             fold_dir / f"{spec.name}-calib" / "live", False)
        classifier.temperature = held_out.temperature
        classifier.unknown_below = held_out.unknown_below
        classifier.novelty = held_out.novelty
    else:
        classifier = fit_model(spec, params, data.selection, out, out / "live", progress)
        fitted_on = data.selection
        best_epoch = classifier.info["summary"].get("best_epoch")
        epochs = {"best_epoch": best_epoch}
        if settings.refit:
            before = _test_predictions(classifier, data.x_test, data.idx_test)
            epochs["correct_before_refit"] = int(_right(before).sum())
            out = fold_dir / f"{spec.name}-refit"
            classifier = fit_model(spec, params, data.final, out, out / "live", progress,
                                   best_epoch)
            fitted_on = data.final
    tracks = _test_predictions(classifier, data.x_test, data.idx_test)
    right = _right(tracks)
    correct = int(right.sum())
    # The tracks read by the fit that made the scored model (training and, for early
    # stopping, validation), taken from the data it was given.
    seen = sorted(set(fitted_on.idx_train["track_id"]) | set(fitted_on.idx_val["track_id"]))
    record = {"model": spec.name, "test_tracks": len(tracks),
              "train_tracks": int(fitted_on.idx_train["track_id"].nunique()),
              **epochs, "correct": correct, "accuracy": correct / len(tracks),
              "tested": tracks["track_id"].tolist(), "seen": seen,
              "wrong": tracks[~right].to_dict("records")}
    return record, tracks, classifier


def summarise_folds(table: pd.DataFrame, scored: pd.DataFrame, genres: list[str]) -> dict:
    """Per model: mean and spread of fold accuracy, pooled accuracy (per seed, and its mean
    over seeds) with a Wilson interval on the tested tracks, and recall per genre over all
    folds and seeds. Repeating with other seeds re-deals the folds; it adds no tracks, so
    the interval's n is the number of tracks, not tracks x seeds."""
    summary = {}
    for name, rows in table.groupby("model", sort=False):
        per_seed = rows.groupby("seed")[["correct", "test_tracks"]].sum()
        n = int(per_seed["test_tracks"].iloc[0])
        k = float(per_seed["correct"].mean())
        low, high = wilson_interval(int(round(k)), n)
        summary[name] = {"mean_fold_accuracy": float(rows["accuracy"].mean()),
                         "std_fold_accuracy": float(rows["accuracy"].std(ddof=1)),
                         "pooled_accuracy": k / n, "tracks": n, "correct": k,
                         "per_seed_accuracy": (per_seed["correct"] / n).round(4).tolist(),
                         "ci95_wilson": [low, high]}
    for name, rows in scored.groupby("model", sort=False):
        recall = rows.groupby("true_genre")["right"].mean()
        summary[name]["genre_recall"] = {g: float(recall[g]) for g in genres if g in recall}
    return summary


def paired_comparison(scored: pd.DataFrame) -> list[dict]:
    """Every pair of models on the same test tracks: how many tracks only one of them gets
    right, and the exact McNemar p-value (two-sided binomial test on those discordant tracks).
    Comparing against a figure measured on other tracks is not a comparison."""
    from musicgenre.core.metrics import mcnemar_exact

    right = scored.pivot_table(index="track_id", columns="model", values="right",
                               aggfunc="first")
    names = list(dict.fromkeys(scored["model"]))
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = right[[a, b]].dropna().astype(bool)
            only_a = int((both[a] & ~both[b]).sum())
            only_b = int((both[b] & ~both[a]).sum())
            pairs.append({"a": a, "b": b, "tracks": int(len(both)), "only_a_right": only_a,
                          "only_b_right": only_b,
                          "mcnemar_exact_p": mcnemar_exact(only_a, only_b)})
    return pairs


def format_crossval(result: dict) -> str:
    protocol = ("final models refit on all non-test tracks" if result["refit"]
                else "final models trained without the validation fold")
    proto = result.get("protocol", {"group_by": "track"})
    grouping = {"artist": "by artist (no artist in both a test fold and its training folds)",
                "track": "by track (artists ignored: a test track's artist may be in training)"}
    seeds = result.get("seeds", [result["seed"]])
    lines = [f"{result['folds']}-fold cross-validation {grouping[proto['group_by']]} on "
             f"{result['tracks']} tracks (seeds {', '.join(map(str, seeds))}; {protocol})"]
    if proto.get("never_tested_genres"):
        lines.append(f"Never tested (all tracks one artist, kept in training): "
                     f"{', '.join(proto['never_tested_genres'])} "
                     f"({proto['tracks_never_tested']} tracks)")
    if "artists_shared_test_train" in proto:
        lines.append(f"Artists shared between a test fold and its training folds: "
                     f"{proto['artists_shared_test_train']} "
                     f"({proto['tracks_with_artist']} tracks with a known artist)")
    lines += ["", "| model | correct per fold (first seed) | accuracy per seed "
              "| std over folds | accuracy, mean over seeds [95% Wilson] |",
              "|---|---|---|---|---|"]
    for name, s in result["summary"].items():
        correct = ", ".join(f"{r['correct']}/{r['test_tracks']}" for r in result["per_fold"]
                            if r["model"] == name and r.get("seed", seeds[0]) == seeds[0])
        per_seed = ", ".join(f"{a:.3f}" for a in s.get("per_seed_accuracy", []))
        low, high = s["ci95_wilson"]
        lines.append(f"| {name} | {correct} | {per_seed} | {s['std_fold_accuracy']:.3f} "
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
    lines += _format_first_model_analyses(result)
    if result.get("study"):
        from musicgenre.evaluation.probes import format_study

        lines += ["", format_study(result["study"])]
    return "\n".join(lines)


def _format_first_model_analyses(result: dict) -> list[str]:
    """The excerpt-length, robustness and unknown tables of the first model, where run."""
    lines: list[str] = []
    if result.get("excerpts"):
        lines += ["", f"{result['excerpts']['model']} on excerpts of the test tracks "
                  f"(first seed; evenly spaced offsets):", "",
                  "| excerpt length | excerpts | accuracy [95% Wilson] | ECE | called unknown |",
                  "|---|---|---|---|---|"]
        for r in result["excerpts"]["lengths"]:
            low, high = r["ci95_wilson"]
            lines.append(f"| {r['length_s']:g} s | {r['excerpts']} | {r['accuracy']:.3f} "
                         f"[{low:.3f}, {high:.3f}] | {r['ece']:.3f} | {r['unknown']:.3f} |")
    if result.get("robustness"):
        lines += ["", f"{result['robustness']['model']} under degraded conditions (first "
                  f"seed's test tracks; paired with clean on the same tracks):", "",
                  "| condition | accuracy | only clean right | only condition right "
                  "| McNemar exact p |", "|---|---|---|---|---|"]
        for r in result["robustness"]["conditions"]:
            lines.append(f"| {r['condition']} | {r['accuracy']:.3f} | {r['only_clean_right']} "
                         f"| {r['only_condition_right']} | {r['mcnemar_p']:.3f} |")
    if result.get("unknown"):
        folds = result["unknown"]
        rejects = sum(u["false_rejects"] for u in folds)
        tested = sum(u["test_tracks"] for u in folds)
        probes = [a for u in folds for a in u["probes"]]
        refused = sum(a["label"] == "unknown" for a in probes)
        thresholds = ", ".join(f"{u['unknown_below']:.2f}" for u in folds)
        lines += ["", f"Unknown threshold (chosen per fold on its validation tracks, "
                  f"{thresholds}): real test tracks "
                  f"turned away {rejects}/{tested}; non-music probes called unknown "
                  f"{refused}/{len(probes)}"]
        for name in dict.fromkeys(a["probe"] for a in probes):
            said = [a for a in probes if a["probe"] == name]
            lines.append(f"- {name}: " + ", ".join(
                f"{a['label']} (p {a['top_probability']:.2f}"
                + (f", distance {a['novelty']:.0f})" if a["novelty"] is not None else ")")
                for a in said))
    return lines


def write_crossval(result: dict, path: Path) -> None:
    write_json(path, result)  # rewritten after each fold
