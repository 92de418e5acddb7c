"""`make experiments`: the comparison a DVC user wants most, readable in a terminal.

`dvc exp show` prints every param and dependency hash as a column, so with five models and a
hundred params the cells people compare are cut short. This reads the same data (`dvc exp
show --json`) and prints one row per experiment: every model's track-level test accuracy
(`reports/eval/<model>/metrics.json`), the headline model, and the params that differ from the
baseline commit as `key=value` text, never cut short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from musicgenre.core.dvc_cli import run_dvc

EVAL_METRICS = "reports/eval/{model}/metrics.json"
HEADLINE_METRICS = "reports/metrics.json"


@dataclass
class Experiment:
    name: str  # the experiment's name, "workspace", or the commit (branch) it is based on
    params: dict  # flattened params.yaml: {"train.lr": 0.001, ...}
    accuracy: dict  # {model: track-level test accuracy or None}
    headline: str | None  # reports/metrics.json's model


def _flatten(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def _file_data(files: dict | None, path: str) -> dict:
    """The data DVC read from one params or metrics file ({} where it has none)."""
    entry = (files or {}).get(path) or {}
    return entry.get("data") or {}


def _experiment(name: str, data: dict) -> Experiment:
    params = _flatten(_file_data(data.get("params"), "params.yaml"))
    metrics = data.get("metrics") or {}
    models = params.get("models") or []
    accuracy = {m: _file_data(metrics, EVAL_METRICS.format(model=m)).get("accuracy")
                for m in models}
    headline = _file_data(metrics, HEADLINE_METRICS).get("model")
    return Experiment(name, params, accuracy, headline)


def read_experiments(repo: Path = Path(".")) -> list[Experiment]:
    """The workspace, the baseline commit and its experiments, as `dvc exp show` lists them
    (baseline first after the workspace, then its experiments, newest first)."""
    shown = json.loads(run_dvc("exp", "show", "--json", cwd=repo) or "[]")
    rows = []
    for entry in shown:
        data = entry.get("data") or {}
        name = entry.get("name") or ("workspace" if entry.get("rev") == "workspace"
                                     else str(entry.get("rev", ""))[:7])
        rows.append(_experiment(name, data))
        for group in entry.get("experiments") or []:
            revs = group.get("revs") or []
            if revs:  # the experiment's last checkpoint holds its results
                exp = revs[0]
                rows.append(_experiment(exp.get("name") or str(exp.get("rev", ""))[:7],
                                        exp.get("data") or {}))
    return rows


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def experiments_table(rows: list[Experiment]) -> str:
    """A plain-text table: experiment, each model's accuracy, the headline model, and the
    params that differ from the baseline row (the first after the workspace)."""
    if not rows:
        return "No experiments: run `dvc repro` (or `dvc exp run`) first."
    models = list(dict.fromkeys(m for r in rows for m in r.accuracy))
    base = rows[1] if len(rows) > 1 and rows[0].name == "workspace" else rows[0]
    header = ["experiment", *models, "headline", f"params changed from {base.name}"]
    body = []
    for row in rows:
        changed = [f"{k}={_value(v)}" for k, v in row.params.items()
                   if base.params.get(k, object()) != v]
        changed += [f"{k} removed" for k in base.params if k not in row.params]
        body.append([row.name,
                     *[("-" if row.accuracy.get(m) is None else f"{100 * row.accuracy[m]:.1f}%")
                       for m in models],
                     row.headline or "-", " ".join(changed) or "-"])
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["", "Track-level test accuracy of every model "
                              "(reports/eval/<model>/metrics.json) on each experiment's test "
                              "split; the whole table: `dvc exp show`."])
