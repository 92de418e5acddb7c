"""DVC stage `validate`: manifest of the raw audio checked by a Great Expectations suite."""

import argparse
from pathlib import Path

from musicgenre.config import load_params
from musicgenre.core.stage import run_stage
from musicgenre.data import genres
from musicgenre.data.validate import validate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True, help="<genre>/<file> audio folder")
    parser.add_argument("--metadata", type=Path,
                        help="per-track artist and source split, from the download stage")
    parser.add_argument("--source", type=Path, required=True,
                        help="the download stage's source.json (genres: auto reads it)")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args()
    params = load_params("genres", "validate")
    summary = validate_dataset(args.raw, params["validate"],
                               genres.read(params["genres"], args.source), args.manifest,
                               args.reports, metadata_path=args.metadata)
    print(f"validate: {summary['n_kept']} of {summary['n_files']} files kept, "
          f"{len(summary['bad_files'])} bad, {len(summary['duplicate_groups'])} duplicate "
          f"group(s); Data Docs: {summary['data_docs']}")
    for bad in summary["bad_files"]:
        print(f"validate: dropped {bad['path']}: {'; '.join(bad['problems'])}")


if __name__ == "__main__":
    run_stage("validate", main)
