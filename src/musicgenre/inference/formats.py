"""How `predict` writes its results: a readable table, JSON, JSON lines or CSV.

One result per file: {"path", "genre", "top": [{"genre", "probability"}, ...]} or, for a file
that could not be used, {"path", "error"}. File names are written so that no name can forge
a line: in the table any name with a control character (a newline, say) is quoted as a JSON
string; CSV and JSON quote by construction.
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def shown_name(path: str) -> str:
    """The path as it is, or as a quoted JSON string where it holds a control character."""
    return path if path.isprintable() else json.dumps(path)


def format_predictions(results: list[dict], model: str, fmt: OutputFormat,
                       unknown: str) -> str:
    """The text `predict` writes, errors included (in the table they go to stderr instead,
    so the caller passes only the classified results there)."""
    if fmt == OutputFormat.json:
        return json.dumps({"model": model, "results": results}, indent=2)
    if fmt == OutputFormat.jsonl:
        return "\n".join(json.dumps({"model": model, **r}) for r in results)
    if fmt == OutputFormat.csv:
        top = max((len(r.get("top", [])) for r in results), default=0)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", "genre", *[f"{kind}_{k + 1}" for k in range(top)
                                            for kind in ("genre", "probability")], "error"])
        for r in results:
            ranked = [x for t in r.get("top", []) for x in (t["genre"], t["probability"])]
            writer.writerow([r["path"], r.get("genre", ""), *ranked,
                             *[""] * (2 * top - len(ranked)), r.get("error", "")])
        return buffer.getvalue().rstrip("\n")
    lines = []
    for r in results:
        if "error" in r:
            continue
        shown = ", ".join(f"{t['genre']} {t['probability']:.2f}" for t in r["top"])
        name = shown_name(r["path"])
        lines.append(f"{name}: {r['genre']} ({shown})" if r["genre"] == unknown
                     else f"{name}: {shown}")
    return "\n".join(lines)
