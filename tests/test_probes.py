"""The representation study: every candidate on the same artist-grouped folds, and a nested
choice that is scored only on tracks the choosing never saw."""

import numpy as np
import pandas as pd

from musicgenre.evaluation.probes import Candidate, candidates, format_study, nested_study


def test_the_candidate_grid_covers_every_network_layer_pooling_and_probe():
    grid = candidates()
    assert {c.networks for c in grid} == {"MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg",
                                          "MSD_musicnn+MTT_musicnn"}
    assert {c.layer for c in grid if c.networks == "MSD_vgg"} == {"taggram", "penultimate"}
    assert {c.layer for c in grid if c.networks == "MTT_musicnn"} == {
        "taggram", "penultimate", "max_pool"}
    assert len(grid) == len(set(grid)) == 13 * 3 * 4  # 13 network-layer pairs


def _synthetic(seed: int = 0):
    """40 tracks of 4 genres by 20 artists; MSD_musicnn's taggram carries the genre, the
    other candidates' inputs are noise."""
    rng = np.random.default_rng(seed)
    genres = np.repeat(["a", "b", "c", "d"], 10)
    manifest = pd.DataFrame({"id": [f"{g}.{k:05d}" for k, g in enumerate(genres)],
                             "genre": genres, "artist": [f"artist {k // 2}" for k in range(40)],
                             "md5": [str(k) for k in range(40)]})
    centres = rng.normal(size=(4, 50)) * 2
    segments = {}
    for track, genre in zip(manifest["id"], genres, strict=True):
        signal = centres["abcd".index(genre)] + rng.normal(size=(6, 50))
        segments[track] = {"MSD_musicnn": {"taggram": signal},
                           "MTT_musicnn": {"taggram": rng.normal(size=(6, 50))}}
    return manifest, segments


def test_nested_choice_finds_the_informative_representation():
    manifest, segments = _synthetic()
    pool = [Candidate("MSD_musicnn", "taggram", "mean", "logreg C=1"),
            Candidate("MTT_musicnn", "taggram", "mean", "logreg C=1"),
            Candidate("MTT_musicnn", "taggram", "max", "svm C=10")]
    study = nested_study(segments, manifest, seeds=[0, 1], folds=4, inner_folds=3,
                         progress=False, pool=pool)
    assert study["table"][0]["candidate"] == pool[0].name
    assert study["table"][0]["accuracy"] > 0.9 > 0.5 > study["table"][-1]["accuracy"]
    assert all(c["chosen"] == pool[0].name for c in study["chosen"])
    assert study["nested"]["accuracy"] == study["table"][0]["accuracy"]
    assert study["nested"]["tracks"] == 40 and len(study["nested"]["per_seed"]) == 2
    assert study["table"][1]["vs_best_mcnemar_p"] < 0.05
    text = format_study(study)
    assert "Nested (choice made inside each outer training set)" in text
    assert pool[0].name in text
