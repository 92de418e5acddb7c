"""Which features matter (the seed study's first question), answered with DVC's experiment
queue: one experiment per feature set, with and without augmentation, training the
from-scratch networks (the registry's models that read features); then a table and a figure
from the experiments' own evaluation files.

Nothing is scheduled here: `dvc exp run --queue` records the grid, `dvc queue start --jobs N`
runs it (N experiments at a time, each in its own workspace), and every experiment's outputs
live in its own git commit, where the table is read from.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pandas as pd

from musicgenre import models
from musicgenre.core.atomic import write_text_atomic
from musicgenre.core.dvc_cli import run_dvc
from musicgenre.core.errors import MusicGenreError


def from_scratch_models() -> list[str]:
    specs = [models.get(name) for name in models.names()]
    return [s.name for s in specs if s.is_neural and not s.uses_embeddings]


def chosen_networks(names: list[str] | None) -> list[str]:
    """The networks to train in every experiment: those named, or (None) every from-scratch
    network; a model that does not read features is refused by name."""
    networks = from_scratch_models()
    if names is None:
        return networks
    wrong = [n for n in names if n not in networks]
    if wrong or not names:
        raise MusicGenreError(f"ablation: --models must name from-scratch networks "
                              f"({', '.join(networks)}), got {', '.join(wrong) or 'none'}")
    return list(dict.fromkeys(names))


def queue_grid(sets: list[str], copies: list[int], jobs: int, repo: Path, tag: str,
               names: list[str]) -> list[str]:
    """Queue one experiment per (feature set, augmentation copies), each training the
    networks `names`; returns the experiments' names.

    Each job gets cores / jobs threads and feature workers, so N jobs do not oversubscribe
    the cores."""
    share = max(1, (os.cpu_count() or 1) // jobs)
    queued = []
    for feature_set in sets:
        for n_copies in copies:
            name = f"{tag}-{re.sub(r'[^a-z0-9_]+', '-', feature_set)}-aug{n_copies}"
            run_dvc("exp", "run", "--queue", "--name", name,
                    "--set-param", f"features.set={feature_set}",
                    "--set-param", f"augment.copies={n_copies}",
                    "--set-param", f"models=[{','.join(names)}]",
                    "--set-param", f"model={names[0]}",
                    "--set-param", "features.embedding=null",
                    "--set-param", f"++train.threads={share}",  # ++: add the key (its default
                    # is in the code) or override it
                    "--set-param", f"++features.workers={share}", cwd=repo)
            queued.append(name)
    return queued


def run_queue(jobs: int, repo: Path, poll_s: float = 5.0) -> None:
    """Start `jobs` queue workers and wait until nothing is queued or running."""
    run_dvc("queue", "start", "--jobs", str(jobs), cwd=repo)
    while re.search(r"\b(Queued|Running)\b", run_dvc("queue", "status", cwd=repo)):
        time.sleep(poll_s)


def collect(names: list[str], repo: Path) -> pd.DataFrame:
    """One row per (experiment, model): its params and its test metrics, read from the
    experiment's commit."""
    revs = {}
    for entry in json.loads(run_dvc("exp", "show", "--json", cwd=repo)):
        for exp in entry.get("experiments") or []:
            for rev in exp["revs"]:
                if rev.get("name") in names:
                    revs[rev["name"]] = rev
    missing = [n for n in names if n not in revs]
    if missing:
        raise MusicGenreError(f"ablation: no experiment named {', '.join(missing)} "
                              "(see `dvc queue status` and `dvc queue logs NAME`)")
    rows = []
    for name in names:
        rev = revs[name]
        params = rev["data"]["params"]["params.yaml"]["data"]
        for model in params["models"]:
            metrics = json.loads(_git_show(repo, rev["rev"], f"reports/eval/{model}/metrics.json"))
            rows.append({"experiment": name, "feature_set": params["features"]["set"],
                         "augmented_copies": params["augment"]["copies"], "model": model,
                         "n_tracks": metrics["n_tracks"], "accuracy": metrics["accuracy"],
                         "accuracy_ci95_low": metrics["accuracy_ci95_low"],
                         "accuracy_ci95_high": metrics["accuracy_ci95_high"],
                         "macro_f1": metrics["macro_f1"]})
    return pd.DataFrame(rows)


def _git_show(repo: Path, rev: str, path: str) -> str:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise MusicGenreError(f"ablation: experiment {rev[:7]} has no {path}")
    return proc.stdout


def write_report(table: pd.DataFrame, out: Path) -> Path:
    """`out` (markdown) and a PNG beside it: accuracy with its interval, and macro-F1, per
    feature set and model, with and without augmentation."""
    from musicgenre.evaluation import plots

    out = Path(out)
    figure = plots.ablation_bars(table, out.with_suffix(".png"))
    lines = ["# Which features matter", "",
             f"Track-level test accuracy [95% Wilson interval] and macro-F1 of the from-scratch "
             f"networks, one DVC experiment per row group ({table['n_tracks'].iloc[0]} test "
             f"tracks each, the pipeline's split and seed). Augmented copies: of each training "
             f"track.", "",
             "| feature set | augmented copies | model | accuracy [95% CI] | macro-F1 |",
             "|---|---|---|---|---|"]
    for r in table.sort_values(["feature_set", "augmented_copies", "model"]).itertuples():
        lines.append(f"| {r.feature_set} | {r.augmented_copies} | {r.model} | "
                     f"{100 * r.accuracy:.1f}% [{100 * r.accuracy_ci95_low:.1f}, "
                     f"{100 * r.accuracy_ci95_high:.1f}] | {r.macro_f1:.3f} |")
    lines += ["", f"![accuracy by feature set]({figure.name})", "",
              "Every figure is one run on one split: read differences against the intervals. "
              "Experiments: " + ", ".join(f"`{n}`" for n in dict.fromkeys(table["experiment"]))
              + " (`dvc exp show`).", ""]
    write_text_atomic(out, "\n".join(lines))
    return out


def ablation(sets: list[str], copies: list[int], jobs: int, out: Path,
             repo: Path = Path("."), networks: list[str] | None = None) -> pd.DataFrame:
    """Queue the grid, run it on `jobs` workers, and write the report. `networks`: the
    from-scratch networks each experiment trains (None: all of them)."""
    tag = time.strftime("abl%Y%m%d%H%M%S")
    names = queue_grid(sets, copies, jobs, repo, tag, chosen_networks(networks))
    run_queue(jobs, repo)
    table = collect(names, repo)
    write_report(table, out)
    return table
