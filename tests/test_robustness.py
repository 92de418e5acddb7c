"""Robustness table: every condition scored, the same with any number of workers."""

import pandas as pd

from musicgenre.config import GTZAN_GENRES
from musicgenre.robustness import robustness_table


def test_conditions_scored_and_independent_of_workers(trained, real_genres_dir):
    tracks = pd.DataFrame([{"id": f"{g}.00002", "genre": g,
                            "path": str(real_genres_dir / g / f"{g}.00002.wav")}
                           for g in ("metal", "classical", "reggae")])
    args = (trained[0] / "transfer", GTZAN_GENRES, tracks, [20.0], [2.0], 7)
    one = robustness_table(*args, workers=1, progress=False)
    two = robustness_table(*args, workers=2, progress=False)
    assert list(one["condition"]) == ["clean", "noise 20 dB SNR", "pitch +2 st"]
    assert (one["n_tracks"] == 3).all() and one["accuracy"].between(0, 1).all()
    pd.testing.assert_frame_equal(one, two)
