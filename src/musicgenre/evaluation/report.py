"""The report stage: the headline metrics file, the model comparison and `reports/report.md`.

Everything here is read from what earlier stages wrote; nothing is recomputed, so the report
always shows the numbers the pipeline produced.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from musicgenre.core.atomic import write_json, write_text_atomic
from musicgenre.core.errors import MusicGenreError
from musicgenre.core.metrics import mcnemar_exact, most_confused
from musicgenre.evaluation import plots

HEADLINE_KEYS = ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high", "balanced_accuracy",
                 "macro_f1",
                 "macro_precision", "macro_recall", "segment_accuracy", "segment_macro_f1",
                 "ece", "top2_accuracy", "n_tracks")  # reports/metrics.json


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MusicGenreError(f"{path}: missing; run the stages before report") from None


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _pct(x) -> str:
    return "n/a" if _missing(x) else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "n/a" if _missing(x) else f"{x:.3f}"


def comparison_table(models: list[str], eval_dir: Path, training_dir: Path) -> pd.DataFrame:
    rows = []
    for name in models:
        m = _read_json(eval_dir / name / "metrics.json")
        timing = _read_json(training_dir / name / "timing.json")
        best = _read_json(training_dir / name / "metrics.json").get("best", {})
        rows.append({"model": name, **{k: m.get(k) for k in HEADLINE_KEYS},
                     "val_track_accuracy": best.get("val_track_accuracy"),
                     "best_epoch": best.get("best_epoch"), "epochs": timing["epochs"],
                     "seconds_per_epoch": timing["mean_epoch_seconds"],
                     "parameters": best.get("parameters")})
    return pd.DataFrame(rows)


def _loss_curves(models: list[str], training_dir: Path) -> dict:
    curves = {}
    for name in models:
        base = training_dir / name / "plots" / "metrics"
        train, val = base / "train" / "loss.tsv", base / "val" / "loss.tsv"
        if train.exists() and val.exists():
            curves[name] = (pd.read_csv(train, sep="\t"), pd.read_csv(val, sep="\t"))
    return curves


def read_predictions(eval_dir: Path, name: str) -> pd.DataFrame:
    """A model's per-track test predictions (evaluate stage), with p_<genre> columns."""
    path = Path(eval_dir) / name / "predictions.csv"
    if not path.exists():
        raise MusicGenreError(f"{path}: missing; run `dvc repro` to evaluate {name}")
    return pd.read_csv(path)


def misclassified(predictions: pd.DataFrame, genres: list[str]) -> list[dict]:
    """Every test track a model got wrong: its genre, what it was called with which
    probability, and the second choice (most confident mistakes first)."""
    proba = predictions[[f"p_{g}" for g in genres]].to_numpy()
    order = proba.argsort(axis=1)[:, ::-1]
    rows = []
    for k, row in enumerate(predictions.itertuples(index=False)):
        if row.true == row.predicted:
            continue
        first, second = order[k, 0], order[k, 1]
        rows.append({"track": row.track_id, "true": row.true_genre,
                     "predicted": row.predicted_genre, "probability": float(proba[k, first]),
                     "second": genres[second], "second_probability": float(proba[k, second])})
    return sorted(rows, key=lambda r: -r["probability"])


def paired_with_headline(predictions: dict[str, pd.DataFrame], headline: str) -> list[dict]:
    """Every other model against the headline model on the same test tracks: the tracks only
    one of the two gets right and the exact McNemar p."""
    def right(name):
        frame = predictions[name]
        return pd.Series((frame["true"] == frame["predicted"]).to_numpy(),
                         index=frame["track_id"])

    head = right(headline)
    rows = []
    for name in predictions:
        if name == headline:
            continue
        other = right(name).reindex(head.index)
        both = other.notna()
        only_head = int((head[both] & ~other[both].astype(bool)).sum())
        only_other = int((~head[both] & other[both].astype(bool)).sum())
        rows.append({"model": name, "tracks": int(both.sum()), "only_headline_right": only_head,
                     "only_model_right": only_other,
                     "mcnemar_exact_p": mcnemar_exact(only_head, only_other)})
    return rows


PROVENANCE_PACKAGES = ("musicgenre", "torch", "scikit-learn", "librosa", "numpy", "dvc",
                       "great-expectations", "musicnn")


def provenance(params_file: Path | None, manifest: Path | None) -> dict:
    """What produced the report: git commit (and whether the checkout had uncommitted
    changes), a digest of params.yaml, a digest of the data (every kept track's id and md5),
    and the versions of the key packages."""
    import hashlib
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    def git(*args):
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    data = None
    if manifest is not None and Path(manifest).exists():
        tracks = pd.read_csv(manifest, keep_default_na=False)
        kept = tracks[tracks["keep"].astype(str) == "True"] if "keep" in tracks else tracks
        lines = sorted(f"{t} {m}" for t, m in zip(kept["id"], kept["md5"], strict=True))
        data = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": None if status is None else bool(status),
            "params_sha256": (hashlib.sha256(Path(params_file).read_bytes()).hexdigest()
                              if params_file is not None and Path(params_file).exists()
                              else None),
            "data_sha256": data,
            "packages": {name: installed(name) for name in PROVENANCE_PACKAGES}}


def build_report(headline: str, models: list[str], reports: Path, raw_source: Path,
                 params_file: Path | None = None, manifest: Path | None = None) -> dict:
    """Write reports/metrics.json, reports/models.json, reports/report.md and figures/
    (`params_file` and `manifest`, where given, are digested into the provenance)."""
    reports = Path(reports)
    eval_dir, training_dir, figures = reports / "eval", reports / "training", reports / "figures"
    table = comparison_table(models, eval_dir, training_dir)
    evaluations = {name: _read_json(eval_dir / name / "evaluation.json") for name in models}
    head = evaluations[headline]
    genres = list(head["per_genre"])
    tested = bool(head["n_tracks"])  # split.test = 0 leaves nothing to score here

    metrics = {"model": headline, **{k: head.get(k) for k in HEADLINE_KEYS}}
    write_json(reports / "metrics.json", metrics)
    write_json(reports / "models.json", json.loads(table.to_json(orient="records")))

    # Figures (PNG files beside the report); those of test scores only when there is a test.
    figs = {}
    robustness = _read_json(reports / "robustness.json")
    rob_table = pd.DataFrame(robustness["conditions"])
    if tested:
        figs["accuracy"] = plots.accuracy_bars(table, figures / "accuracy_by_model.png")
        figs["per_genre"] = plots.per_genre_bars(head["per_genre"],
                                                 f"Per-genre precision, recall, F1: {headline}",
                                                 figures / "per_genre_headline.png")
        for name in models:
            figs[f"cm_{name}"] = plots.confusion_png(evaluations[name]["confusion_matrix"],
                                                     genres,
                                                     f"{name}: test tracks",
                                                     figures / f"confusion_{name}.png")
        figs["robustness"] = plots.robustness_bars(rob_table, robustness["model"],
                                                   figures / "robustness.png")
        figs["reliability"] = plots.reliability_png(
            pd.read_csv(eval_dir / headline / "reliability.csv"),
            f"Reliability: {headline}, test tracks", figures / "reliability.png")
    curves = _loss_curves(models, training_dir)
    if curves:
        figs["loss"] = plots.loss_curves(curves, figures / "loss_curves.png")

    rel = {k: Path(v).relative_to(reports).as_posix() for k, v in figs.items()}
    inputs = ReportInputs(
        headline=headline, models=models, metrics=metrics, table=table, genres=genres,
        validation=_read_json(reports / "validation" / "summary.json"),
        source=_read_json(raw_source), split_counts=pd.read_csv(reports / "split_counts.csv"),
        protocol=_read_json(reports / "split.json"), robustness=robustness,
        rob_table=rob_table, figs=rel,
        evaluations=evaluations,
        predictions=({name: read_predictions(eval_dir, name) for name in models} if tested
                     else {}),
        provenance=provenance(params_file, manifest))
    write_json(reports / "provenance.json", inputs.provenance)
    write_text_atomic(reports / "report.md", render_markdown(inputs))
    return metrics


def protocol_text(protocol: dict) -> str:
    """One sentence a reviewer needs before reading any test number."""
    if protocol["method"] == "fault-filtered":
        how = "the published fault-filtered GTZAN split (Kereliuk, Sturm & Larsen)"
    elif protocol["group_by"] == "artist":
        how = (f"a genre-stratified split that keeps each artist on one side "
               f"({protocol['tracks_with_artist']} tracks with a known artist; the others "
               f"are grouped alone)")
    else:
        how = "a genre-stratified split by track that ignores artists"
    shared = protocol["artists_shared"]["train-test"]
    return (f"Protocol: {how}. Artists with tracks in both train and test: **{shared}** "
            f"(of {protocol['artists']['test']} test artists). Byte-identical duplicate groups: "
            f"{protocol['duplicate_groups']}, {protocol['duplicate_groups_across_splits']} of "
            f"them across splits.")


@dataclass
class ReportInputs:
    """Everything the report shows, as the earlier stages wrote it."""

    headline: str
    models: list[str]
    metrics: dict  # the headline model's test metrics (reports/metrics.json)
    table: pd.DataFrame  # one row per model (comparison_table)
    genres: list[str]
    validation: dict
    source: dict
    split_counts: pd.DataFrame
    protocol: dict
    robustness: dict
    rob_table: pd.DataFrame
    figs: dict  # figure name -> path relative to the report
    evaluations: dict  # model -> its full evaluation (per-genre scores, confusion matrix)
    predictions: dict  # model -> its per-track test predictions (empty without a test split)
    provenance: dict  # commit, params and data digests, package versions

    @property
    def head(self) -> dict:
        """The headline model's full evaluation."""
        return self.evaluations[self.headline]

    @property
    def tested(self) -> bool:
        return bool(self.metrics["n_tracks"])


def render_markdown(r: ReportInputs) -> str:
    """reports/report.md: its sections in order (without a test split, those of test
    scores are left out)."""
    sections = [_summary, _data_quality, _split, _models]
    if r.tested:
        sections += [_paired, _per_genre, _confusions, _errors, _calibration, _loss,
                     _robustness]
    else:
        sections += [_loss]
    sections += [_provenance]
    lines = ["# Genre classification report", ""]
    for section in sections:
        lines += section(r)
    return "\n".join(lines) + "\n"


def _summary(r: ReportInputs) -> list[str]:
    metrics, headline, source = r.metrics, r.headline, r.source
    if not r.tested:
        return [f"Headline model **{headline}**. **No test split** (`split.test: 0`): every "
                f"track was used for training or validation, so this report has no test "
                f"accuracy. Score the models on other labelled audio with `musicgenre evaluate "
                f"--model models/{headline} --data FOLDER`. Data source: `{source['source']}`, "
                f"{source['n_tracks']} tracks.", ""]
    return [f"Headline model **{headline}**: track-level test accuracy "
            f"**{_pct(metrics['accuracy'])}** (95% interval "
            f"{_pct(metrics['accuracy_ci95_low'])} to {_pct(metrics['accuracy_ci95_high'])}"
            f", {metrics['n_tracks']} test tracks), balanced accuracy "
            f"{_pct(metrics.get('balanced_accuracy'))}, macro-F1 "
            f"**{_num(metrics['macro_f1'])}**,"
            f" expected calibration error of its track probabilities "
            f"{_num(metrics.get('ece'))}. Data source: `{source['source']}`, "
            f"{source['n_tracks']} tracks.", "",
            protocol_text(r.protocol), ""]


def _data_quality(r: ReportInputs) -> list[str]:
    validation = r.validation
    lines = ["## Data quality", "",
             f"{validation['n_files']} files scanned, {validation['n_kept']} kept "
             f"(policy `{validation['policy']}`).", ""]
    if validation["bad_files"]:
        lines += ["| file | problems |", "|---|---|"]
        lines += [f"| `{b['path']}` | {'; '.join(b['problems'])} |"
                  for b in validation["bad_files"]]
        lines.append("")
    else:
        lines += ["No file failed a check.", ""]
    dups = validation["duplicate_groups"]
    lines += [f"Byte-identical duplicate groups: {len(dups)}"
              + (f" ({'; '.join(' = '.join(g) for g in dups[:10])}"
                 f"{', ...' if len(dups) > 10 else ''}); each group is kept in one split."
                 if dups else "."), ""]
    return lines


def _split(r: ReportInputs) -> list[str]:
    counts, protocol = r.split_counts, r.protocol
    lines = ["## Split", "", protocol_text(protocol), "",
             "| " + " | ".join(counts.columns) + " |",
             "|" + "---|" * len(counts.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |"
              for row in counts.itertuples(index=False)]
    lines.append("")
    lines += [f"- {note}" for note in protocol["notes"]]
    if protocol["notes"]:
        lines.append("")
    return lines


def _models(r: ReportInputs) -> list[str]:
    lines = ["## Models", "",
             "| model | test accuracy (95% CI) | top-2 | balanced accuracy | macro-F1 | "
             "segment accuracy | ECE | val accuracy | epochs (best) | s/epoch | parameters |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r.table.itertuples():
        best = (f"{row.epochs} ({int(row.best_epoch)})" if pd.notna(row.best_epoch)
                else f"{row.epochs}")
        name = f"**{row.model}**" if row.model == r.headline else row.model
        lines.append(
            f"| {name} | {_pct(row.accuracy)}"
            f" ({_pct(row.accuracy_ci95_low)}-{_pct(row.accuracy_ci95_high)}) | "
            f"{_pct(row.top2_accuracy)} | {_pct(row.balanced_accuracy)} | {_num(row.macro_f1)} | "
            f"{_pct(row.segment_accuracy)} | {_num(row.ece)} | {_pct(row.val_track_accuracy)}"
            f" | {best} | {row.seconds_per_epoch:.1f} | "
            f"{int(row.parameters) if pd.notna(row.parameters) else ''} |")
    lines += ["", "Accuracy is track-level (segment log-probabilities averaged per track); "
              "top-2: the true genre is one of the two most probable; "
              "balanced accuracy is the mean of the per-genre recalls (what matters when genres "
              "are unbalanced); segment accuracy scores every 3-s segment alone. The interval "
              "is Wilson's 95% score interval over test tracks. ECE: expected calibration "
              "error of the track probabilities (10 confidence bins), after the temperature "
              "fitted on the validation tracks.", ""]
    if r.tested:
        lines += [f"![accuracy by model]({r.figs['accuracy']})", ""]
    return lines


def _per_genre(r: ReportInputs) -> list[str]:
    lines = [f"## Per-genre results: {r.headline}", "",
             "| genre | precision | recall | F1 | test tracks |", "|---|---|---|---|---|"]
    for g, v in r.head["per_genre"].items():
        lines.append(f"| {g} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} | "
                     f"{v['support']} |")
    lines += ["", f"![per-genre P/R/F1]({r.figs['per_genre']})", "",
              "### Every model: precision / recall / F1 per genre", "",
              "| genre | " + " | ".join(r.models) + " |", "|---|" + "---|" * len(r.models)]
    for g in r.genres:
        cells = []
        for name in r.models:
            v = r.evaluations[name]["per_genre"][g]
            cells.append(f"{v['precision']:.2f} / {v['recall']:.2f} / {v['f1']:.2f}")
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    return lines + [""]


def _paired(r: ReportInputs) -> list[str]:
    rows = paired_with_headline(r.predictions, r.headline)
    if not rows:
        return []
    lines = [f"## Paired comparison with {r.headline}", "",
             "Each model against the headline model on the same test tracks: the tracks only "
             "one of the two gets right, and the exact McNemar p (two-sided binomial test on "
             "those tracks). A difference in accuracy with a large p is not a difference.", "",
             f"| model | tracks | only {r.headline} right | only the model right | McNemar p |",
             "|---|---|---|---|---|"]
    lines += [f"| {x['model']} | {x['tracks']} | {x['only_headline_right']} | "
              f"{x['only_model_right']} | {x['mcnemar_exact_p']:.3f} |" for x in rows]
    return lines + [""]


def _errors(r: ReportInputs) -> list[str]:
    wrong = misclassified(r.predictions[r.headline], r.genres)
    lines = [f"## Test tracks {r.headline} got wrong", ""]
    if not wrong:
        return lines + ["None.", ""]
    lines += ["| track | true genre | predicted | probability | second choice |",
              "|---|---|---|---|---|"]
    lines += [f"| {w['track']} | {w['true']} | {w['predicted']} | {w['probability']:.2f} | "
              f"{w['second']} ({w['second_probability']:.2f}) |" for w in wrong]
    return lines + [""]


def _calibration(r: ReportInputs) -> list[str]:
    return [f"## Calibration: {r.headline}", "",
            f"Expected calibration error {_num(r.metrics.get('ece'))} after the temperature "
            f"fitted on the validation tracks: in a well-calibrated model the tracks given "
            f"probability p are right about p of the time (bars on the diagonal; the number "
            f"in each bar is its tracks).", "",
            f"![reliability diagram]({r.figs['reliability']})", ""]


def _provenance(r: ReportInputs) -> list[str]:
    p = r.provenance
    commit = p["git_commit"] or "unknown (not a git checkout)"
    if p["uncommitted_changes"]:
        commit += " with uncommitted changes"
    packages = ", ".join(f"{k} {v}" for k, v in p["packages"].items() if v)
    return ["## Provenance", "",
            f"- commit: `{commit}`",
            f"- params.yaml sha256: `{p['params_sha256'] or 'unknown'}`",
            f"- data sha256 (every kept track's id and md5): `{p['data_sha256'] or 'unknown'}`",
            f"- packages: {packages}", "",
            "The same in `reports/provenance.json`.", ""]


def _confusions(r: ReportInputs) -> list[str]:
    lines = ["## Confusion matrices", ""]
    lines += [f"![confusion {name}]({r.figs['cm_' + name]})" for name in r.models]
    lines += ["", "### Most confused genre pairs (headline model)", ""]
    pairs = most_confused(r.head, r.genres)
    if pairs:
        lines += ["| true | predicted as | tracks |", "|---|---|---|"]
        lines += [f"| {p['true']} | {p['predicted']} | {p['tracks']} |" for p in pairs]
    else:
        lines.append("No confusions on the test tracks.")
    return lines + [""]


def _loss(r: ReportInputs) -> list[str]:
    if "loss" not in r.figs:
        return []
    return ["## Loss curves", "", f"![loss curves]({r.figs['loss']})", ""]


def _robustness(r: ReportInputs) -> list[str]:
    lines = [f"## Robustness: {r.robustness['model']}", "",
             "Test tracks under each condition of `robustness` (one at a time), classified "
             "from their audio as predict does; each condition is paired with clean on the "
             "same tracks (tracks only one of the two gets right, exact McNemar p).", "",
             "| condition | accuracy | macro-F1 | tracks | only clean right "
             "| only condition right | McNemar p |", "|---|---|---|---|---|---|---|"]
    for row in r.rob_table.itertuples():
        paired = (f"{row.only_clean_right} | {row.only_condition_right} | "
                  f"{row.mcnemar_p:.3f}" if hasattr(row, "mcnemar_p") else "- | - | -")
        lines.append(f"| {row.condition} | {_pct(row.accuracy)} | {_num(row.macro_f1)} "
                     f"| {row.n_tracks} | {paired} |")
    return lines + ["", f"![robustness]({r.figs['robustness']})", ""]
