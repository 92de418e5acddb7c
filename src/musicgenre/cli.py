"""The `musicgenre` command: classify audio, score a model on a labelled folder, and more.

Every command calls the same library functions as the pipeline stages.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer

from musicgenre.core.errors import MusicGenreError
from musicgenre.inference.formats import OutputFormat


class GroupBy(StrEnum):
    artist = "artist"
    track = "track"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"

app = typer.Typer(help="Music genre classification: predict, evaluate, cross-validate.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode="markdown")  # markdown: help paragraphs reflow to the terminal


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"musicgenre {version('musicgenre')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                  help="Print the version and exit."),
) -> None:
    """Music genre classification: predict, evaluate, cross-validate."""
    from musicgenre.core.process import restore_interrupts, tune_allocator

    restore_interrupts()  # Ctrl-C stops a command even under a parent that ignores it
    tune_allocator()


def _fail(exc: MusicGenreError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=1)


def _default_model() -> Path:
    """models/<model>, the headline model named in ./params.yaml."""
    from musicgenre.config import load_section

    if not Path("params.yaml").exists():
        raise MusicGenreError("no params.yaml here to name the headline model; give --model "
                              "models/<name>")
    return Path("models") / load_section("model")


ModelOption = typer.Option(None, "--model", "-m",
                           help="Trained model directory (default: models/MODEL, MODEL as "
                           "in params.yaml).")
DeviceOption = typer.Option(Device.auto, "--device", help="Where the networks run.")
WorkersOption = typer.Option(0, "--workers", min=0,
                             help="CPU processes decoding and classifying files (0: one per "
                             "core).")


@app.command()
def predict(
    paths: list[Path] = typer.Argument(..., help="Audio files or folders (wav au flac ogg mp3)."),
    model: Path = ModelOption,
    top: int = typer.Option(3, min=1, help="How many genres to show per file."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f",
                                               help="How to write the results."),
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
    out: Path = typer.Option(None, "--output", "-o",
                             help="Write the results to this file (default: stdout)."),
    device: Device = DeviceOption,
    workers: int = WorkersOption,
) -> None:
    """Classify audio files: the top genres with their probabilities.

    Any sample rate; stereo is mixed down; clips from 1 s. A file that is unlike the
    model's music (its top probability under the threshold chosen on validation tracks, or
    for a track-summary model too far from the training tracks) is called unknown. A file
    that cannot be used gets one error line, the others are still classified, and the exit
    code is 1.
    """
    fmt = OutputFormat.json if as_json else output_format
    _require_paths(paths)  # before anything slow is imported or loaded
    from musicgenre.core.atomic import write_text_atomic
    from musicgenre.core.devices import resolve_device
    from musicgenre.inference.checkpoint import load_classifier
    from musicgenre.inference.classifier import UNKNOWN
    from musicgenre.inference.formats import format_predictions, shown_name
    from musicgenre.inference.predict import classify_files, expand_paths

    try:
        model = model or _default_model()
        classifier = load_classifier(model)  # fail early, and the genre names
        resolve_device(device.value)
    except MusicGenreError as exc:
        _fail(exc)
    results, failed = [], 0
    for path, prediction, error in classify_files(model, expand_paths(paths), workers,
                                                  device.value, progress=False):
        if error:
            failed += 1
            results.append({"path": path, "error": error})
            if fmt == OutputFormat.table:
                typer.echo(f"error: {shown_name(error)}", err=True)
            continue
        proba = prediction.proba
        ranked = [{"genre": classifier.genres[i], "probability": round(float(proba[i]), 4)}
                  for i in np.argsort(-proba)[:top]]
        results.append({"path": path, "genre": prediction.label, "top": ranked})
    if not results:
        _fail(MusicGenreError("no audio files found in the given paths"))
    text = format_predictions(results, classifier.name, fmt, UNKNOWN)
    if out is None:
        if text:
            typer.echo(text)
    else:
        write_text_atomic(out, text + "\n")
    if failed:
        raise typer.Exit(code=1)


def _require_paths(paths: list[Path]) -> None:
    """Every path given must exist: say so at once, before any model loads."""
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    for path in missing:
        typer.echo(f"error: {path}: no such file or directory", err=True)
    if missing:
        raise typer.Exit(code=1)


@app.command()
def evaluate(
    data: Path = typer.Option(..., help="Labelled folder: GENRE/FILE audio, one folder per genre."),
    model: Path = ModelOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output, with each "
                                 "file's prediction."),
    device: Device = DeviceOption,
    workers: int = WorkersOption,
) -> None:
    """Score a trained model on any labelled folder (a cross-dataset check).

    Prints track-level accuracy with its 95% interval, macro and per-genre P/R/F1 and the
    confusion matrix. Unusable files get one error line each and make the exit code 1.
    """
    from musicgenre.core.devices import resolve_device
    from musicgenre.evaluation.evaluate import evaluate_folder

    def say(kind: str, line: str) -> None:
        typer.echo(f"{kind}: {line}", err=True)

    _require_paths([data])
    try:
        model = model or _default_model()
        resolve_device(device.value)
        metrics = evaluate_folder(model, data, workers, device.value,
                                  progress=sys.stderr.isatty(), report=say)
    except MusicGenreError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        typer.echo(_format_metrics(metrics))
    if metrics["errors"]:
        raise typer.Exit(code=1)


def _format_metrics(m: dict) -> str:
    genres = list(m["per_genre"])
    if not m["n_tracks"]:
        return "no track could be scored"
    width = max(len(g) for g in [*genres, "genre"])
    lines = [f"model {m['model']} on {m['data']}: {m['n_tracks']} tracks",
             f"accuracy {m['accuracy']:.3f} (95% CI {m['accuracy_ci95_low']:.3f}-"
             f"{m['accuracy_ci95_high']:.3f}), balanced accuracy {m['balanced_accuracy']:.3f}, "
             f"macro-F1 {m['macro_f1']:.3f}", "",
             f"{'genre':<{width}} {'precision':>9} {'recall':>7} {'f1':>6} {'tracks':>7}"]
    for g, v in m["per_genre"].items():
        lines.append(f"{g:<{width}} {v['precision']:>9.2f} {v['recall']:>7.2f} {v['f1']:>6.2f} "
                     f"{v['support']:>7}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * (width + 1) + " ".join(f"{g[:4]:>4}" for g in genres)]
    for g, row in zip(genres, m["confusion_matrix"], strict=True):
        lines.append(f"{g:<{width}} " + " ".join(f"{c:>4}" for c in row))
    return "\n".join(lines)


@app.command("pr-report")
def pr_report_command(
    base: str = typer.Option("main", help="Git revision to compare against."),
    out: Path = typer.Option(Path("pr-report.md"), help="Markdown file to write."),
) -> None:
    """Markdown of `dvc metrics diff` and `dvc params diff` against BASE (for PR comments)."""
    from musicgenre.core.atomic import write_text_atomic
    from musicgenre.evaluation.pr_comment import pr_report

    try:
        text = pr_report(base)
    except MusicGenreError as exc:
        _fail(exc)
    write_text_atomic(out, text)
    typer.echo(text)


@app.command()
def experiments() -> None:
    """One row per DVC experiment: every model's test accuracy, the headline model and the
    params that differ from the baseline commit (what `dvc exp show` cuts short)."""
    from musicgenre.evaluation.experiments import experiments_table, read_experiments

    try:
        typer.echo(experiments_table(read_experiments()))
    except MusicGenreError as exc:
        _fail(exc)


@app.command("set-params")
def set_params_command(
    assignments: list[str] = typer.Argument(..., help="key.path=value, e.g. "
                                            "data.source=synthetic model=rnn"),
    params: Path = typer.Option(Path("params.yaml"), "--params", help="Parameters file."),
) -> None:
    """Change values in params.yaml and nothing else: comments and layout stay as written
    (`dvc exp run -S` rewrites the whole file). Every section is checked first; on an error
    the file is not touched."""
    from musicgenre.config import set_params

    try:
        changed = set_params(assignments, params)
    except MusicGenreError as exc:
        _fail(exc)
    for key, value in changed.items():
        typer.echo(f"{params}: {key} = {json.dumps(value)}")


@app.command()
def crossval(
    data: list[Path] = typer.Option(..., help="Labelled GENRE/FILE audio folder; repeat "
                                    "the option to pool several."),
    models: str = typer.Option(None, help="Comma-separated models to score (default: models "
                               "in the parameters file)."),
    seeds: str = typer.Option(None, help="Comma-separated seeds: the folds are dealt once per "
                              "seed and every model is scored on each (default: the "
                              "parameters file's seed)."),
    excerpts: str = typer.Option(None, help="Comma-separated excerpt lengths in seconds, e.g. "
                                 "1,2,3,5,10,30: the first model is also scored on excerpts "
                                 "of its test tracks (first seed)."),
    study: bool = typer.Option(False, help="Also run the nested representation study over "
                               "every pretrained network, layer, pooling and probe."),
    robustness: bool = typer.Option(False, help="Also score the first model on its test "
                                    "tracks (first seed) under the parameters file's "
                                    "robustness conditions, paired with clean."),
    figures: Path = typer.Option(None, help="Write PNG figures (excerpt lengths, robustness) "
                                 "into this folder."),
    folds: int = typer.Option(5, min=2, help="Number of folds."),
    group_by: GroupBy = typer.Option(None, help="Keep each artist (or each track) in one "
                                     "fold (default: split.group_by in the params)."),
    artist_index: Path = typer.Option(None, help="A local copy of Sturm's GTZANindex.txt "
                                      "(checked against data.artists.gtzan_index.sha256) "
                                      "instead of downloading it."),
    params: Path = typer.Option(Path("params.yaml"), help="Parameters file."),
    out: Path = typer.Option(None, help="Write the full result as JSON here."),
    refit: bool = typer.Option(True, help="Train each fold's final model on every non-test "
                               "track (for the epochs early stopping chose), not only on the "
                               "training folds."),
) -> None:
    """K-fold cross-validation by artist (or track): mean and spread of track-level test
    accuracy, Wilson intervals, paired model comparisons."""
    from musicgenre.config import load_params, load_section
    from musicgenre.evaluation.crossval import (
        CrossvalSettings,
        cross_validate,
        format_crossval,
        write_crossval,
    )

    try:
        names = ([m.strip() for m in models.split(",") if m.strip()] if models
                 else load_section("models", path=params))
        sections = ["seed", "genres", "data", "split", "features", "augment", "train",
                    "robustness", *names]
        loaded = load_params(*dict.fromkeys(sections), path=params)
        group_by = group_by.value if group_by else loaded["split"].group_by
        settings = CrossvalSettings(folds=folds, refit=refit, group_by=group_by,
                                    local_index=artist_index, partial_out=out,
                                    seeds=_number_list("--seeds", seeds, int),
                                    excerpts_s=_number_list("--excerpts", excerpts, float),
                                    study=study, figures_dir=figures,
                                    robustness=loaded["robustness"] if robustness else None)
        result = cross_validate(data, loaded, names, settings)
    except MusicGenreError as exc:
        _fail(exc)
    typer.echo(format_crossval(result))
    if out:
        write_crossval(result, out)


def _number_list(option: str, text: str | None, kind: type) -> list | None:
    """'1,2,3' -> [1, 2, 3]; None stays None; anything else is one line naming the option."""
    if text is None:
        return None
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MusicGenreError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise MusicGenreError(f"{option}: expected finite numbers >= 0, got {text!r}")
    return values


@app.command()
def ablation(
    sets: str = typer.Option("mfcc,chroma,contrast,seed_stack,logmel",
                             help="Comma-separated feature sets (features.set values)."),
    copies: str = typer.Option("0,2", help="Comma-separated augment.copies values."),
    jobs: int = typer.Option(1, min=1, help="Experiments run at once (dvc queue start --jobs)."),
    out: Path = typer.Option(Path("reports/ablation.md"), help="Markdown report; a PNG "
                             "beside it."),
    models: str = typer.Option(None, help="Comma-separated networks each experiment trains "
                               "(default: every from-scratch network: cnn, rnn, crnn)."),
) -> None:
    """Which features matter: queue one DVC experiment per feature set and augmentation
    setting for the from-scratch networks, run the queue, and tabulate their test metrics.
    Run it in the project (it calls `dvc`); the data source is params.yaml's."""
    from musicgenre.evaluation.ablation import ablation as run_ablation

    try:
        networks = [m.strip() for m in models.split(",") if m.strip()] if models else None
        table = run_ablation([s.strip() for s in sets.split(",") if s.strip()],
                             [int(c) for c in copies.split(",") if c.strip()], jobs, out,
                             networks=networks)
    except ValueError as exc:
        _fail(MusicGenreError(f"--copies: whole numbers separated by commas ({exc})"))
    except MusicGenreError as exc:
        _fail(exc)
    typer.echo(out.read_text())
    typer.echo(f"{len(table)} results from {table['experiment'].nunique()} experiments")


if __name__ == "__main__":
    app()
