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


def test_dvc_plots_render_offline_in_a_real_browser(project_copy, quick_models, quick_features):
    """`dvc plots show` writes a page that draws every declared plot with no internet: the
    Vega libraries come from the vendored template (.dvc/config), a headless Chromium loads it
    from disk with every http(s) request blocked, logs no console error and draws a non-blank
    view per plot. The screenshot is kept under test-artifacts/."""
    import shutil

    from helpers.browser import ARTIFACTS, render_offline, require_chromium
    from helpers.dvc_repo import dvc
    from musicgenre.evaluation.evaluate import evaluate_split

    require_chromium()
    # the files the evaluate and train stages write, for the five models dvc.yaml plots (two
    # real evaluations, reused under the other names: the page is under test, not the models)
    for name in ("baseline", "cnn"):
        evaluate_split(quick_models / name, quick_features, project_copy / "reports/eval" / name)
    for name, like in (("rnn", "cnn"), ("crnn", "cnn"), ("transfer", "baseline")):
        shutil.copytree(project_copy / "reports/eval" / like, project_copy / "reports/eval" / name)
    for name in ("cnn", "rnn", "crnn"):
        shutil.copytree(quick_models / "training/cnn", project_copy / "reports/training" / name)
    proc = dvc("plots", "show", "-o", "plots_html", cwd=project_copy)
    page = project_copy / "plots_html" / "index.html"
    text = page.read_text()
    assert "cdn.jsdelivr" not in text and '<script src="http' not in text, proc.stdout
    assert "vega-embed@6.18.2" in text  # the vendored libraries are inline
    declared = len(yaml_plots(project_copy))
    seen = render_offline(page, ARTIFACTS / "dvc-plots-offline.png", declared)
    errors = [m for m in seen["console"] if m["level"] == "SEVERE"]
    assert not errors, errors
    assert seen["views"] == declared == 5
    assert all(pixels > 500 for pixels in seen["inked_pixels"]), seen["inked_pixels"]
    assert (ARTIFACTS / "dvc-plots-offline.png").stat().st_size > 10_000


def yaml_plots(repo):
    import yaml

    return yaml.safe_load((repo / "dvc.yaml").read_text())["plots"]
