"""Which pretrained representation carries genre to artists a model never heard.

A nested, artist-grouped cross-validation over every candidate built from the networks the
`musicnn` package ships (components.EMBEDDINGS): each network alone and the two musicnn
networks together, each layer (taggram, penultimate, max_pool), each pooling of a track's
segment embeddings (mean, max, mean+std) and each probe (logistic regression at two
strengths, an RBF SVM, PCA + SVM). For every seed the outer folds are the same artist-grouped
folds for every candidate (paired); inside each outer training set an inner artist-grouped
cross-validation picks one candidate, which is then scored on the outer test fold. The nested
figure therefore includes the cost of choosing among all of them; each candidate's own outer
accuracy is reported beside it (that table is optimistic for whichever is best: it is how the
default was chosen, the nested figure is what to expect).

Embeddings are computed once per track from its original audio (no augmented copies):
the study compares representations, the pipeline's transfer model adds the augmentation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from musicgenre.core.metrics import wilson_interval
from musicgenre.data.split import kfold_assign
from musicgenre.features.components import EMBEDDING_LAYERS, EMBEDDINGS, architecture

POOLINGS = {"mean": lambda s: s.mean(axis=0),
            "max": lambda s: s.max(axis=0),
            "mean_std": lambda s: np.concatenate([s.mean(axis=0), s.std(axis=0)])}
PROBES = ("logreg C=1", "logreg C=10", "svm C=10", "pca_svm C=10")
# 13 network-layer pairs x 3 poolings x 4 probes, with an inner 3-fold CV per outer fold:
# about 2,300 fits per seed, spread over the cores (joblib)


@dataclass(frozen=True)
class Candidate:
    networks: str  # one network, or several joined by '+'
    layer: str
    pooling: str
    probe: str

    @property
    def name(self) -> str:
        return f"{self.networks} {self.layer} {self.pooling} {self.probe}"


def candidates() -> list[Candidate]:
    """Every network and the musicnn pair, every layer each has, every pooling, every probe
    (fusion by concatenation is the pair; late fusion and attention pooling are not here)."""
    sources = [*EMBEDDINGS, "MSD_musicnn+MTT_musicnn"]
    out = []
    for networks in sources:
        arch = {architecture(n) for n in networks.split("+")}
        for layer, widths in EMBEDDING_LAYERS.items():
            if not arch <= set(widths):
                continue
            for pooling in POOLINGS:
                out += [Candidate(networks, layer, pooling, probe) for probe in PROBES]
    return out


def build_probe(probe: str, seed: int):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    kind, c = probe.split(" C=")
    if kind == "logreg":
        head = [LogisticRegression(C=float(c), max_iter=10000)]
    else:
        head = ([PCA(0.95, svd_solver="full")] if kind == "pca_svm" else []) + [
            SVC(C=float(c), kernel="rbf", random_state=seed)]
    return make_pipeline(StandardScaler(), *head)


def track_matrix(segments: dict[str, dict[str, dict[str, np.ndarray]]], ids: list[str],
                 candidate: Candidate) -> np.ndarray:
    """[tracks, dim]: each track's pooled segment embeddings of the candidate's networks
    and layer (`segments[track][network][layer]` is [n_segments, width])."""
    pool = POOLINGS[candidate.pooling]
    return np.stack([np.concatenate([pool(segments[t][n][candidate.layer])
                                     for n in candidate.networks.split("+")]) for t in ids])


def _fit_predict(candidate: Candidate, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                 test: np.ndarray, seed: int) -> np.ndarray:
    model = build_probe(candidate.probe, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny inner folds
        model.fit(x[train], y[train])
        return model.predict(x[test])


def nested_study(segments: dict, manifest: pd.DataFrame, seeds: list[int], folds: int = 5,
                 inner_folds: int = 3, progress: bool = True,
                 pool: list[Candidate] | None = None) -> dict:
    """Outer accuracy of every candidate and the nested accuracy of choosing among them,
    per seed, on artist-grouped folds (`manifest`: id, genre, artist, md5 as crossval has).

    Why one long function: the outer and inner loops share the folds, the candidate
    matrices and the per-track records; split up they would pass all of them around."""
    from tqdm import tqdm

    manifest = manifest.reset_index(drop=True)
    ids, y = manifest["id"].tolist(), manifest["genre"].to_numpy()
    pool = pool or candidates()
    matrices = {c: track_matrix(segments, ids, c) for c in pool}
    right = {c: np.zeros((len(seeds), len(ids)), dtype=int) for c in pool}
    nested_right = np.zeros((len(seeds), len(ids)), dtype=int)
    tested = np.zeros((len(seeds), len(ids)), dtype=bool)
    chosen: list[dict] = []
    for s, seed in enumerate(tqdm(seeds, desc="study seeds", disable=not progress)):
        outer = kfold_assign(manifest, folds, seed, "artist")
        for f in range(folds):
            test, train = np.flatnonzero(outer == f), np.flatnonzero(outer != f)
            if not len(test):
                continue
            tested[s, test] = True
            inner = kfold_assign(manifest.iloc[train], inner_folds, seed + 1000 * (f + 1),
                                 "artist")
            scores = _score_candidates(pool, matrices, y, train, test, inner, inner_folds, seed)
            inner_score = {}
            for c, (outer_right, inner_hits) in zip(pool, scores, strict=True):
                right[c][s, test] = outer_right
                inner_score[c] = inner_hits
            best = max(pool, key=lambda c: (inner_score[c], -pool.index(c)))
            nested_right[s, test] = right[best][s, test]
            chosen.append({"seed": seed, "fold": f, "chosen": best.name,
                           "inner_correct": inner_score[best]})
    return _study_summary(pool, right, nested_right, tested, y, seeds, chosen)


def _one_candidate(c: Candidate, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                   test: np.ndarray, inner: np.ndarray, inner_folds: int, seed: int):
    """(outer test right/wrong per track, inner-CV correct count) of one candidate.

    Why eight parameters: as _score_candidates, for one candidate (a joblib task)."""
    outer = _fit_predict(c, x, y, train, test, seed) == y[test]
    hits = 0
    for g in range(inner_folds):
        i_test, i_train = train[inner == g], train[inner != g]
        if len(i_test):
            hits += int((_fit_predict(c, x, y, i_train, i_test, seed) == y[i_test]).sum())
    return outer, hits


def _score_candidates(pool, matrices, y, train, test, inner, inner_folds, seed) -> list:
    """_one_candidate for every candidate, on every core (one thread each).

    Why eight parameters: the candidates and their inputs, and the outer and inner folds
    that every candidate shares."""
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return Parallel(n_jobs=-1, prefer="processes")(
            delayed(_one_candidate)(c, matrices[c], y, train, test, inner, inner_folds, seed)
            for c in pool)


def _accuracy_record(right: np.ndarray, tested: np.ndarray) -> dict:
    """Mean over seeds of the accuracy on the tested tracks, its spread over seeds, and a
    Wilson interval on the tracks (repeats re-deal folds; they do not add tracks)."""
    per_seed = [float(right[s][tested[s]].mean()) for s in range(len(right))]
    n = int(tested[0].sum())
    low, high = wilson_interval(int(round(np.mean(per_seed) * n)), n)
    return {"accuracy": float(np.mean(per_seed)), "per_seed": per_seed,
            "seed_std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
            "tracks": n, "ci95_wilson": [low, high]}


def _study_summary(pool, right, nested_right, tested, y, seeds, chosen) -> dict:
    """The table (best first, each paired with the best), the nested figure and its recall
    per genre.

    Why seven parameters: they are nested_study's loop results, handed over as they are."""
    from musicgenre.core.metrics import mcnemar_exact

    table = []
    for c in pool:
        record = {"candidate": c.name, "networks": c.networks, "layer": c.layer,
                  "pooling": c.pooling, "probe": c.probe, **_accuracy_record(right[c], tested)}
        table.append(record)
    table.sort(key=lambda r: -r["accuracy"])
    best = next(c for c in pool if c.name == table[0]["candidate"])
    nested = _accuracy_record(nested_right, tested)
    genres = sorted(set(y))
    recall = {g: float(nested_right[:, y == g].sum() / max(tested[:, y == g].sum(), 1))
              for g in genres}
    # paired: the best single candidate against every other, on the same tracks and seeds
    # (discordant track-seed pairs; repeats of one track are not independent, so read the
    # p-values as a guide, the per-seed spread as the check)
    for record in table[1:]:
        other = next(c for c in pool if c.name == record["candidate"])
        a, b = right[best][tested], right[other][tested]
        only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
        record["vs_best_only_best_right"], record["vs_best_only_this_right"] = only_a, only_b
        record["vs_best_mcnemar_p"] = mcnemar_exact(only_a, only_b)
    return {"seeds": list(seeds), "candidates": len(pool), "table": table,
            "nested": {**nested, "genre_recall": recall}, "chosen": chosen}


def format_study(study: dict, top: int = 15) -> str:
    nested = study["nested"]
    low, high = nested["ci95_wilson"]
    counts = pd.Series([c["chosen"] for c in study["chosen"]]).value_counts()
    lines = [f"Representation study: {study['candidates']} candidates, artist-grouped "
             f"{len(study['chosen']) // len(study['seeds'])}-fold CV repeated over seeds "
             f"{study['seeds']}",
             f"Nested (choice made inside each outer training set): {nested['accuracy']:.3f} "
             f"[95% Wilson {low:.3f}, {high:.3f}] on {nested['tracks']} tracks; "
             f"seed spread {nested['seed_std']:.3f}",
             "Chosen by the inner loops: " + ", ".join(f"{n} ({k}x)" for n, k in counts.items()),
             "Recall per genre (nested): " + ", ".join(f"{g} {r:.2f}" for g, r in
                                                      nested["genre_recall"].items()),
             "", "| candidate (outer accuracy, not nested) | mean over seeds | per seed "
             "| 95% Wilson | vs best: only best / only this right, McNemar p |",
             "|---|---|---|---|---|"]
    for r in study["table"][:top]:
        low, high = r["ci95_wilson"]
        paired = (f"{r['vs_best_only_best_right']} / {r['vs_best_only_this_right']}, "
                  f"p={r['vs_best_mcnemar_p']:.3f}" if "vs_best_mcnemar_p" in r else "(best)")
        lines.append(f"| {r['candidate']} | {r['accuracy']:.3f} | "
                     f"{', '.join(f'{a:.3f}' for a in r['per_seed'])} | "
                     f"[{low:.3f}, {high:.3f}] | {paired} |")
    return "\n".join(lines)


def _embed_track(job: tuple[str, float, float]) -> dict:
    """{network: {layer: [n_segments, width]}} for one track's original audio."""
    import torch

    from musicgenre.data.audio import load_audio
    from musicgenre.features.musicnn import SAMPLE_RATE, embed_all_layers

    torch.set_num_threads(1)  # one process per core
    path, segment_s, hop_s = job
    audio, _ = load_audio(Path(path), SAMPLE_RATE)
    if len(audio) < segment_s * SAMPLE_RATE:
        audio = np.resize(audio, int(segment_s * SAMPLE_RATE))  # as predict fills a clip
    starts = list(np.arange(0.0, len(audio) / SAMPLE_RATE - segment_s + 1e-6, hop_s))
    return {name: embed_all_layers(audio, SAMPLE_RATE, starts, name, segment_s)
            for name in EMBEDDINGS}


def study_segments(manifest: pd.DataFrame, features, progress: bool = True) -> dict:
    """Every network's every layer for every segment of every track ({track id: ...}),
    on one process per core."""
    from musicgenre.core.parallel import OrderedPool, resolve_workers

    jobs = [(str(p), features.segment_s, features.segment_hop_s) for p in manifest["path"]]
    with OrderedPool(resolve_workers(0, len(jobs))) as pool:
        embedded = list(pool.map(_embed_track, jobs, desc="embed (all networks)",
                                 unit="track", progress=progress))
    return dict(zip(manifest["id"], embedded, strict=True))
