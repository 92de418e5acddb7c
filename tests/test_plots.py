"""Every report figure is a real PNG with something drawn in it."""

import matplotlib.image
import numpy as np
import pandas as pd

from musicgenre.evaluation import plots

GENRES = ["blues", "jazz", "rock"]


def _drawn(path):
    image = matplotlib.image.imread(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not a blank canvas
    return image


def test_confusion_matrix(tmp_path):
    _drawn(plots.confusion_png([[3, 1, 0], [0, 2, 2], [0, 0, 4]], GENRES, "t",
                               tmp_path / "sub" / "cm.png"))
    _drawn(plots.confusion_png([[0] * 3] * 3, GENRES, "nothing right or wrong", tmp_path / "z.png"))


def test_accuracy_bars_with_intervals(tmp_path):
    table = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.5, 0.9],
                          "accuracy_ci95_low": [0.3, 0.8], "accuracy_ci95_high": [0.7, 0.95]})
    _drawn(plots.accuracy_bars(table, tmp_path / "acc.png"))


def test_per_genre_bars(tmp_path):
    per_genre = {g: {"precision": p, "recall": 1 - p, "f1": 0.5}
                 for g, p in zip(GENRES, (0.2, 0.5, 0.9), strict=True)}
    _drawn(plots.per_genre_bars(per_genre, "per genre", tmp_path / "pg.png"))


def test_loss_curves_and_robustness(tmp_path):
    steps = pd.DataFrame({"step": np.arange(5), "loss": np.linspace(2, 0.5, 5)})
    _drawn(plots.loss_curves({"cnn": (steps, steps.assign(loss=steps["loss"] + 0.2))},
                             tmp_path / "loss.png"))
    table = pd.DataFrame({"condition": ["clean", "noise 10 dB SNR"], "accuracy": [0.8, 0.4]})
    _drawn(plots.robustness_bars(table, "cnn", tmp_path / "rob.png"))
