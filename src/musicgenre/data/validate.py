"""The validate stage: a manifest of every raw file, checked by a Great Expectations suite.

Row-level expectations (genre in the expected set, readable, duration and sample-rate ranges,
not silent) mark bad files; the policy either drops them (listed in the report) or fails the
stage. Dataset-level expectations (every genre present with enough tracks) always fail it.
Byte-identical duplicates are reported, not dropped: the split keeps each group together.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.atomic import write_json
from musicgenre.core.errors import AudioError, MusicGenreError, ValidationFailed
from musicgenre.core.parallel import OrderedPool, resolve_workers
from musicgenre.data.audio import find_labelled_audio, load_audio, read_info, rms_dbfs
from musicgenre.data.config import ValidateConfig
from musicgenre.data.tables import read_metadata, write_manifest

# Great Expectations must not phone home from a pipeline stage.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

def scan_file(path: Path, genre: str) -> dict:
    """Describe one audio file; an unreadable one gets readable=False and the reason."""
    row = {"id": path.stem, "genre": genre, "path": path.as_posix(), "format": path.suffix[1:],
           "sample_rate": np.nan, "channels": np.nan, "frames": np.nan, "duration_s": np.nan,
           "rms_dbfs": np.nan, "md5": hashlib.md5(path.read_bytes()).hexdigest(),
           "readable": False, "error": ""}
    try:
        info = read_info(path)
        audio, _ = load_audio(path)
    except AudioError as exc:
        row["error"] = str(exc).removeprefix(f"{path}: ")
        return row
    row.update(format=info.format.lower(), sample_rate=info.sample_rate, channels=info.channels,
               frames=len(audio), duration_s=len(audio) / info.sample_rate,
               rms_dbfs=rms_dbfs(audio), readable=True)
    return row


def _scan_job(path: str) -> dict:
    return scan_file(Path(path), Path(path).parent.name)


def scan_folder(genres_dir: Path, progress: bool = True, workers: int = 1) -> pd.DataFrame:
    """One manifest row per `<genre>/<file>` audio file under `genres_dir`, decoded on
    `workers` processes (0: one per core; decoding FMA's MP3s is most of the cost)."""
    files, _ = find_labelled_audio(genres_dir)
    if not files:
        raise MusicGenreError(f"{genres_dir}: no audio files in <genre>/ folders")
    with OrderedPool(resolve_workers(workers, len(files))) as pool:
        rows = list(pool.map(_scan_job, [str(p) for p in files], desc="scan audio",
                             unit="file", progress=progress))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- GX suite
def _row_expectations(cfg: ValidateConfig, genres: list[str]):
    import great_expectations.expectations as gxe

    fmt = {"result_format": "COMPLETE"}
    return {
        "unknown genre": gxe.ExpectColumnValuesToBeInSet(column="genre", value_set=genres, **fmt),
        "unreadable": gxe.ExpectColumnValuesToBeInSet(column="readable", value_set=[True], **fmt),
        "duration out of range": gxe.ExpectColumnValuesToBeBetween(
            column="duration_s", min_value=cfg.min_duration_s, max_value=cfg.max_duration_s, **fmt),
        "sample rate out of range": gxe.ExpectColumnValuesToBeBetween(
            column="sample_rate", min_value=cfg.min_sample_rate, max_value=cfg.max_sample_rate,
            **fmt),
        "silent": gxe.ExpectColumnValuesToBeBetween(
            column="rms_dbfs", min_value=cfg.silence_dbfs, **fmt),
    }


def _problem_text(kind: str, row: pd.Series, cfg: ValidateConfig) -> str:
    if kind == "unreadable":
        return f"unreadable: {row['error']}"
    if kind == "duration out of range":
        limit = (f"< {cfg.min_duration_s:g} s" if row["duration_s"] < cfg.min_duration_s
                 else f"> {cfg.max_duration_s:g} s")
        return f"too {'short' if '<' in limit else 'long'}: {row['duration_s']:.2f} s {limit}"
    if kind == "sample rate out of range":
        return f"sample rate {int(row['sample_rate'])} Hz outside [{cfg.min_sample_rate}, " \
               f"{cfg.max_sample_rate}]"
    if kind == "silent":
        return f"silent: RMS {row['rms_dbfs']:.1f} dBFS < {cfg.silence_dbfs:g}"
    return f"genre '{row['genre']}' not in params genres"


@dataclass
class SuiteOutcome:
    row_failures: dict[str, list[int]] = field(default_factory=dict)  # problem -> row indices
    genres_below_minimum: list[dict] = field(default_factory=list)
    expectations: list[dict] = field(default_factory=list)  # one summary line each


def run_suite(manifest: pd.DataFrame, cfg: ValidateConfig, genres: list[str],
              docs_dir: Path | None) -> SuiteOutcome:
    """Run the two GX suites (per file, per genre) and collect what failed.

    Row-level checks run on every file; the per-genre count checks run on the files that
    survive them, which is what the rest of the pipeline will see.

    Why long: the suite is declared expectation by expectation, in one place, so that it
    reads as the list of checks it is (docs/pipeline.md lists the same).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    for site in list(context.get_site_names()):
        context.delete_data_docs_site(site)  # the default site lives in a throwaway temp dir
    actions = []
    if docs_dir is not None:
        context.add_data_docs_site(site_name="validation", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs",
                                                          site_names=["validation"]))
    source = context.data_sources.add_pandas("audio")

    # Suite 1: one row per file.
    row_checks = _row_expectations(cfg, genres)
    file_suite = context.suites.add(gx.ExpectationSuite(name="audio_files"))
    for expectation in row_checks.values():
        file_suite.add_expectation(expectation)
    file_suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="md5",
                                                                result_format="COMPLETE"))
    files_def = context.validation_definitions.add(gx.ValidationDefinition(
        name="audio_files", suite=file_suite,
        data=source.add_dataframe_asset("manifest").add_batch_definition_whole_dataframe("all")))
    frame = manifest.drop(columns=["keep", "problems", "artist", "source_split"],
                          errors="ignore").reset_index(drop=True)
    result = context.checkpoints.add(gx.Checkpoint(
        name="audio_files", validation_definitions=[files_def], actions=actions,
        result_format="COMPLETE")).run(batch_parameters={"dataframe": frame})

    outcome = SuiteOutcome()
    for r in _results(result):
        column = r.expectation_config.kwargs.get("column")
        idx = [int(i) for i in r.result.get("unexpected_index_list") or []]
        outcome.expectations.append({"expectation": r.expectation_config.type, "column": column,
                                     "success": bool(r.success), "unexpected": len(idx)})
        kind = next((k for k, e in row_checks.items()
                     if e.expectation_type == r.expectation_config.type and e.column == column),
                    None)
        if kind is not None and idx:
            outcome.row_failures[kind] = idx

    # Suite 2: one row per expected genre, counting the files that passed suite 1.
    bad = {i for rows in outcome.row_failures.values() for i in rows}
    kept_genres = frame.loc[~frame.index.isin(bad), "genre"]
    counts = pd.DataFrame({"genre": genres,
                           "n_tracks": [int((kept_genres == g).sum()) for g in genres]})
    genre_suite = context.suites.add(gx.ExpectationSuite(name="genre_counts"))
    genre_suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
        column="n_tracks", min_value=cfg.min_tracks_per_genre, result_format="COMPLETE"))
    genre_def = context.validation_definitions.add(gx.ValidationDefinition(
        name="genre_counts", suite=genre_suite,
        data=source.add_dataframe_asset("genre_counts").add_batch_definition_whole_dataframe(
            "all")))
    result = context.checkpoints.add(gx.Checkpoint(
        name="genre_counts", validation_definitions=[genre_def], actions=actions,
        result_format="COMPLETE")).run(batch_parameters={"dataframe": counts})
    for r in _results(result):
        idx = [int(i) for i in r.result.get("unexpected_index_list") or []]
        outcome.expectations.append({"expectation": r.expectation_config.type,
                                     "column": "n_tracks", "success": bool(r.success),
                                     "unexpected": len(idx)})
        outcome.genres_below_minimum = counts.loc[idx].to_dict("records")
    return outcome


def _results(checkpoint_result):
    for run in checkpoint_result.run_results.values():
        yield from run.results


METADATA_COLUMNS = ("artist", "source_split")


def add_metadata(manifest: pd.DataFrame, metadata_path: Path | None) -> pd.DataFrame:
    """The `artist` and `source_split` columns from the download stage's `metadata.csv`
    (empty where unknown)."""
    manifest = manifest.copy()
    for column in METADATA_COLUMNS:
        manifest[column] = ""
    if metadata_path is None or not Path(metadata_path).exists():
        return manifest
    table = read_metadata(metadata_path, METADATA_COLUMNS)
    for column in METADATA_COLUMNS:
        manifest[column] = manifest["id"].map(dict(zip(table["id"], table[column],
                                                       strict=True))).fillna("")
    return manifest


def validate_dataset(genres_dir: Path, cfg: ValidateConfig, genres: list[str],
                     manifest_path: Path, report_dir: Path, progress: bool = True,
                     metadata_path: Path | None = None) -> dict:
    """Scan, validate, apply the policy; write the manifest, summary JSON and Data Docs.

    Why seven parameters: the stage's inputs and outputs are paths DVC declares one by one
    (audio, metadata, manifest, report folder) beside the params, genres and progress
    switch.
    """
    manifest = add_metadata(scan_folder(genres_dir, progress=progress, workers=cfg.workers),
                            metadata_path)
    docs_dir = Path(report_dir) / "data_docs"
    shutil.rmtree(docs_dir, ignore_errors=True)
    outcome = run_suite(manifest, cfg, genres, docs_dir)
    low_genres = outcome.genres_below_minimum

    problems: dict[int, list[str]] = defaultdict(list)
    for kind, rows in outcome.row_failures.items():
        for i in rows:
            problems[i].append(_problem_text(kind, manifest.loc[i], cfg))
    manifest["problems"] = ["; ".join(problems.get(i, [])) for i in range(len(manifest))]
    manifest["keep"] = [i not in problems for i in range(len(manifest))]

    groups = manifest.groupby("md5")["id"].apply(list)
    duplicates = [sorted(ids) for ids in groups if len(ids) > 1]
    bad_files = [{"id": manifest.loc[i, "id"], "path": manifest.loc[i, "path"],
                  "problems": problems[i]} for i in sorted(problems)]
    kept = manifest[manifest["keep"]]
    summary = {
        "policy": cfg.policy,
        "n_files": int(len(manifest)),
        "n_kept": int(len(kept)),
        "n_dropped": int(len(bad_files)) if cfg.policy == "drop" else 0,
        "tracks_per_genre": {g: int((kept["genre"] == g).sum()) for g in genres},
        "tracks_with_artist": int((kept["artist"] != "").sum()),
        "bad_files": bad_files,
        "duplicate_groups": sorted(duplicates),
        "genres_below_minimum": low_genres,
        "expectations": outcome.expectations,
        "success": not bad_files and not low_genres,
        "data_docs": (docs_dir / "index.html").as_posix(),
    }
    write_json(Path(report_dir) / "summary.json", summary)
    write_manifest(manifest, manifest_path)

    if bad_files and cfg.policy == "fail":
        listed = "; ".join(f"{b['path']}: {', '.join(b['problems'])}" for b in bad_files)
        raise ValidationFailed(f"{len(bad_files)} bad file(s) under policy 'fail': {listed}")
    if low_genres:
        listed = ", ".join(f"{g['genre']} has {g['n_tracks']}" for g in low_genres)
        raise ValidationFailed(
            f"too few usable tracks (validate.min_tracks_per_genre="
            f"{cfg.min_tracks_per_genre}): {listed}"
        )
    return summary
