"""PNG figures for the report (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_png(cm: list[list[int]], genres: list[str], title: str, path: Path) -> Path:
    """Counts (left) and the same rows normalised to the share of each true genre (right):
    counts show where the tracks are, shares compare genres with unequal test tracks."""
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    side = max(5.5, 0.42 * len(genres) + 2.5)  # 16 FMA genres need more room than 10
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1.5, side))
    for ax, values, label, fmt in ((axes[0], cm, "tracks", "{:d}"),
                                   (axes[1], share, "share of the true genre", "{:.2f}")):
        im = ax.imshow(values, cmap="Blues", vmin=0)
        ax.set_xticks(range(len(genres)), genres, rotation=45, ha="right")
        ax.set_yticks(range(len(genres)), genres)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {label}")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j]:
                    ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center",
                            color="white" if values[i, j] > values.max() / 2 else "black",
                            fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def reliability_png(table: pd.DataFrame, title: str, path: Path) -> Path:
    """Reliability diagram from core.metrics.reliability_table: each confidence bin's
    accuracy as a bar (the number in it: its tracks), its mean confidence as a dot; on the
    diagonal the probabilities mean what they say."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    width = table["bin_high"] - table["bin_low"]
    ax.bar(table["bin_low"], table["accuracy"], width=width, align="edge", edgecolor="black",
           color="#4C72B0", alpha=0.8, label="accuracy in the bin")
    ax.plot(table["confidence"], table["accuracy"], "o", color="#DD8452",
            label="mean top probability")
    for row in table.itertuples():
        ax.text(row.bin_low + (row.bin_high - row.bin_low) / 2, 0.02, str(row.tracks),
                ha="center", fontsize=7, color="white")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top probability (calibrated)")
    ax.set_ylabel("accuracy of the tracks in the bin")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def accuracy_bars(table: pd.DataFrame, path: Path) -> Path:
    """Track-level accuracy per model with its 95% interval as error bars."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    acc = table["accuracy"].to_numpy()
    err = np.vstack([acc - table["accuracy_ci95_low"], table["accuracy_ci95_high"] - acc])
    ax.bar(table["model"], acc, yerr=err, capsize=6, color="#4C72B0")
    for x, a in enumerate(acc):
        ax.text(x, a / 2, f"{a:.2f}", ha="center", color="white")
    ax.set_ylim(0, 1)
    ax.set_ylabel("track-level test accuracy")
    ax.set_title("Accuracy by model (error bars: 95% interval)")
    return _save(fig, path)


def per_genre_bars(per_genre: dict, title: str, path: Path) -> Path:
    genres = list(per_genre)
    x = np.arange(len(genres))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.55 * len(genres) + 2), 3.8))
    for k, metric in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (k - 1) * 0.27, [per_genre[g][metric] for g in genres], width=0.27,
               label=metric)
    ax.set_xticks(x, genres, rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.legend(ncols=3, loc="lower right")
    ax.set_title(title)
    return _save(fig, path)


def loss_curves(curves: dict[str, tuple[pd.DataFrame, pd.DataFrame]], path: Path) -> Path:
    """Train (dashed) and validation (solid) loss per epoch for each neural model."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, (train, val)) in enumerate(curves.items()):
        color = f"C{i}"
        ax.plot(train["step"] + 1, train["loss"], "--", color=color, label=f"{name} train")
        ax.plot(val["step"] + 1, val["loss"], "-", color=color, label=f"{name} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss curves")
    ax.legend(fontsize=8)
    return _save(fig, path)


def robustness_bars(table: pd.DataFrame, model: str, path: Path,
                    where: str = "the test tracks") -> Path:
    """Accuracy per condition; conditions that differ from clean at p < 0.05 (paired exact
    McNemar, where the table has it) are marked with a star."""
    fig, ax = plt.subplots(figsize=(max(7, 0.65 * len(table)), 4))
    ax.bar(table["condition"], table["accuracy"], color="#55A868")
    if "mcnemar_p" in table:
        for x, (acc, p) in enumerate(zip(table["accuracy"], table["mcnemar_p"], strict=True)):
            if p < 0.05:
                ax.text(x, acc + 0.02, "*", ha="center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("track-level accuracy")
    ax.set_title(f"Robustness of {model} on {where} (* p < 0.05 vs clean)")
    ax.tick_params(axis="x", rotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return _save(fig, path)


def excerpt_curve(lengths: list[dict], model: str, path: Path) -> Path:
    """Accuracy (with its 95% interval) and ECE against excerpt length."""
    x = [r["length_s"] for r in lengths]
    acc = np.array([r["accuracy"] for r in lengths])
    low = acc - np.array([r["ci95_wilson"][0] for r in lengths])
    high = np.array([r["ci95_wilson"][1] for r in lengths]) - acc
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.errorbar(x, acc, yerr=[low, high], marker="o", capsize=3, label="accuracy")
    ax.plot(x, [r["ece"] for r in lengths], marker="s", label="ECE")
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.set_ylim(0, 1)
    ax.set_xlabel("excerpt length (s)")
    ax.set_title(f"{model} on excerpts of cross-validation test tracks")
    ax.legend()
    return _save(fig, path)


def ablation_bars(table: pd.DataFrame, path: Path) -> Path:
    """Accuracy (bars, 95% interval) and macro-F1 (dots) per feature set: one group per
    feature set, one bar per model and augmentation setting."""
    table = table.sort_values(["feature_set", "augmented_copies", "model"])
    sets = list(dict.fromkeys(table["feature_set"]))
    variants = list(dict.fromkeys(zip(table["model"], table["augmented_copies"], strict=True)))
    width = 0.8 / len(variants)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(sets)), 4))
    for k, (model, copies) in enumerate(variants):
        rows = table[(table["model"] == model) & (table["augmented_copies"] == copies)]
        rows = rows.set_index("feature_set").reindex(sets)
        x = np.arange(len(sets)) + (k - (len(variants) - 1) / 2) * width
        acc = rows["accuracy"].to_numpy(dtype=float)
        err = np.vstack([acc - rows["accuracy_ci95_low"], rows["accuracy_ci95_high"] - acc])
        ax.bar(x, acc, width, yerr=err, capsize=3, color=f"C{k}",
               label=f"{model}, {copies} aug. copies")
        ax.plot(x, rows["macro_f1"], "k.", markersize=5)
    ax.set_xticks(np.arange(len(sets)), sets)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy (dots: macro-F1)")
    ax.set_title("Which features matter")
    ax.legend(fontsize=7, ncols=2)
    return _save(fig, path)
