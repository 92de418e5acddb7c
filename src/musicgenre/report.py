"""The report stage: the headline metrics file, the model comparison and `reports/report.md`.

Everything here is read from what earlier stages wrote; nothing is recomputed, so the report
always shows the numbers the pipeline produced.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from musicgenre import plots
from musicgenre.atomic import write_json, write_text_atomic
from musicgenre.errors import MusicGenreError
from musicgenre.metrics import most_confused

HEADLINE_KEYS = ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high", "balanced_accuracy",
                 "macro_f1",
                 "macro_precision", "macro_recall", "segment_accuracy", "segment_macro_f1",
                 "ece", "n_tracks")


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


def build_report(headline: str, models: list[str], reports: Path, raw_source: Path) -> dict:
    """Write reports/metrics.json, reports/models.json, reports/report.md and figures/."""
    reports = Path(reports)
    eval_dir, training_dir, figures = reports / "eval", reports / "training", reports / "figures"
    table = comparison_table(models, eval_dir, training_dir)
    head = _read_json(eval_dir / headline / "metrics.json")
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
            m = _read_json(eval_dir / name / "metrics.json")
            figs[f"cm_{name}"] = plots.confusion_png(m["confusion_matrix"], genres,
                                                     f"{name}: test tracks",
                                                     figures / f"confusion_{name}.png")
        figs["robustness"] = plots.robustness_bars(rob_table, robustness["model"],
                                                   figures / "robustness.png")
    curves = _loss_curves(models, training_dir)
    if curves:
        figs["loss"] = plots.loss_curves(curves, figures / "loss_curves.png")

    validation = _read_json(reports / "validation" / "summary.json")
    source = _read_json(raw_source)
    split_counts = pd.read_csv(reports / "split_counts.csv")
    protocol = _read_json(reports / "split.json")
    rel = {k: Path(v).relative_to(reports).as_posix() for k, v in figs.items()}
    text = _markdown(headline, metrics, table, head, genres, validation, source, split_counts,
                     protocol, rob_table, robustness, rel, models)
    write_text_atomic(reports / "report.md", text)
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


def _markdown(headline, metrics, table, head, genres, validation, source, split_counts,
              protocol, rob_table, robustness, figs, models) -> str:
    lines = ["# Genre classification report", ""]
    if metrics["n_tracks"]:
        lines += [f"Headline model **{headline}**: track-level test accuracy "
                  f"**{_pct(metrics['accuracy'])}** (95% interval "
                  f"{_pct(metrics['accuracy_ci95_low'])} to {_pct(metrics['accuracy_ci95_high'])}"
                  f", {metrics['n_tracks']} test tracks), balanced accuracy "
                  f"{_pct(metrics.get('balanced_accuracy'))}, macro-F1 "
                  f"**{_num(metrics['macro_f1'])}**,"
                  f" expected calibration error of its track probabilities "
                  f"{_num(metrics.get('ece'))}. Data source: `{source['source']}`, "
                  f"{source['n_tracks']} tracks.", "",
                  protocol_text(protocol), ""]
    else:
        lines += [f"Headline model **{headline}**. **No test split** (`split.test: 0`): every "
                  f"track was used for training or validation, so this report has no test "
                  f"accuracy. Score the models on other labelled audio with `musicgenre evaluate "
                  f"--model models/{headline} --data FOLDER`. Data source: `{source['source']}`, "
                  f"{source['n_tracks']} tracks.", ""]

    lines += ["## Data quality", "",
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

    lines += ["## Split", "", protocol_text(protocol), "",
              "| " + " | ".join(split_counts.columns) + " |",
              "|" + "---|" * len(split_counts.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |"
              for row in split_counts.itertuples(index=False)]
    lines.append("")
    lines += [f"- {note}" for note in protocol["notes"]]
    if protocol["notes"]:
        lines.append("")

    lines += ["## Models", "",
              "| model | test accuracy (95% CI) | balanced accuracy | macro-F1 | "
              "segment accuracy | ECE | val accuracy | epochs (best) | s/epoch | parameters |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        best = f"{r.epochs} ({int(r.best_epoch)})" if pd.notna(r.best_epoch) else f"{r.epochs}"
        lines.append(
            f"| {'**' + r.model + '**' if r.model == headline else r.model} | {_pct(r.accuracy)}"
            f" ({_pct(r.accuracy_ci95_low)}-{_pct(r.accuracy_ci95_high)}) | "
            f"{_pct(r.balanced_accuracy)} | {_num(r.macro_f1)} | "
            f"{_pct(r.segment_accuracy)} | {_num(r.ece)} | {_pct(r.val_track_accuracy)} | {best} | "
            f"{r.seconds_per_epoch:.1f} | {int(r.parameters) if pd.notna(r.parameters) else ''} |")
    lines += ["", "Accuracy is track-level (segment log-probabilities averaged per track); "
              "balanced accuracy is the mean of the per-genre recalls (what matters when genres "
              "are unbalanced); segment accuracy scores every 3-s segment alone. The interval "
              "is Wilson's 95% score interval over test tracks. ECE: expected calibration "
              "error of the track probabilities (10 confidence bins), after the temperature "
              "fitted on the validation tracks.", ""]
    if not metrics["n_tracks"]:
        if "loss" in figs:
            lines += ["## Loss curves", "", f"![loss curves]({figs['loss']})", ""]
        return "\n".join(lines) + "\n"
    lines += [f"![accuracy by model]({figs['accuracy']})", ""]

    lines += [f"## Per-genre results: {headline}", "",
              "| genre | precision | recall | F1 | test tracks |", "|---|---|---|---|---|"]
    for g, v in head["per_genre"].items():
        lines.append(f"| {g} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} | "
                     f"{v['support']} |")
    lines += ["", f"![per-genre P/R/F1]({figs['per_genre']})", ""]

    lines += ["## Confusion matrices", ""]
    lines += [f"![confusion {name}]({figs['cm_' + name]})" for name in models]
    lines += ["", "### Most confused genre pairs (headline model)", ""]
    pairs = most_confused(head, genres)
    if pairs:
        lines += ["| true | predicted as | tracks |", "|---|---|---|"]
        lines += [f"| {p['true']} | {p['predicted']} | {p['tracks']} |" for p in pairs]
    else:
        lines.append("No confusions on the test tracks.")
    lines.append("")

    if "loss" in figs:
        lines += ["## Loss curves", "", f"![loss curves]({figs['loss']})", ""]

    lines += [f"## Robustness: {robustness['model']}", "",
              "Test tracks with Gaussian noise at a fixed SNR, or pitch-shifted, then "
              "re-extracted and classified.", "",
              "| condition | accuracy | macro-F1 | tracks |", "|---|---|---|---|"]
    lines += [f"| {r.condition} | {_pct(r.accuracy)} | {_num(r.macro_f1)} | {r.n_tracks} |"
              for r in rob_table.itertuples()]
    lines += ["", f"![robustness]({figs['robustness']})", ""]
    return "\n".join(lines) + "\n"
