"""DVC stage `report`: headline metrics, model comparison, reports/report.md with figures."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.evaluation.report import build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True, help="data/raw/source.json")
    parser.add_argument("--manifest", type=Path, required=True,
                        help="data/interim/manifest.csv (digested into the provenance)")
    parser.add_argument("--params", type=Path, required=True,
                        help="params.yaml (digested into the provenance)")
    args = parser.parse_args()
    params = load_params("model", "models", path=args.params)
    metrics = build_report(params["model"], params["models"], args.reports, args.source,
                           args.params, args.manifest)
    print(f"report: {args.reports / 'report.md'} (headline {metrics['model']}: accuracy "
          f"{metrics['accuracy']})")


if __name__ == "__main__":
    run_stage("report", main)
