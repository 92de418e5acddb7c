"""Pull-request report: `dvc metrics diff` and `dvc params diff` against a base revision,
as one markdown document (the CI workflow posts it as a PR comment; `make pr-report`
writes the same file locally)."""

from __future__ import annotations

from pathlib import Path

from musicgenre.core.dvc_cli import run_dvc


def pr_report(base: str, repo: Path = Path(".")) -> str:
    """Markdown with every headline metric (old, new, change) and every changed param."""
    metrics = run_dvc("metrics", "diff", base, "--all", "--md", cwd=repo)
    params = run_dvc("params", "diff", base, "--md", cwd=repo)
    return "\n".join([
        f"## Metrics: `{base}` vs this branch", "",
        metrics or "No metrics found (has `dvc repro` been run?).", "",
        f"## Params changed since `{base}`", "",
        params or "No parameter changed.", "",
        "Track-level test metrics: the headline model in `reports/metrics.json`, every "
        "model in `reports/eval/<model>/metrics.json`; the full comparison is in "
        "`reports/report.md`.", ""])
