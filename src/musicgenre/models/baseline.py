"""Classical baseline: per-track feature statistics + logistic regression or an RBF SVM.

Each feature row is summarised by its mean and standard deviation over all frames of a track
(every augmented copy of a training track is one more example). Segment-level predictions,
for comparison with the neural models, apply the same classifier to one segment's statistics.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

from musicgenre.core.errors import ConfigError
from musicgenre.models.spec import ModelSpec


@dataclass
class BaselineConfig:
    classifier: Literal["logreg", "svm"] = "logreg"
    C: float = 1.0

    def check(self, key: str) -> None:
        if self.C <= 0:
            raise ConfigError(f"{key}.C: must be > 0, got {self.C}")


def summary_statistics(segments: np.ndarray) -> np.ndarray:
    """[n_segments, rows, frames] -> [2 * rows]: mean and std of each row over all frames."""
    x = np.asarray(segments, dtype=np.float32)
    frames = x.transpose(1, 0, 2).reshape(x.shape[1], -1)
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)])


def build_classifier(cfg: BaselineConfig, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if cfg.classifier == "svm":
        model = SVC(C=cfg.C, kernel="rbf", probability=True, random_state=seed)
    else:
        model = LogisticRegression(C=cfg.C, max_iter=5000)
    return make_pipeline(StandardScaler(), model)


SPEC = ModelSpec("baseline", BaselineConfig, estimator=build_classifier,
                 track_summary=summary_statistics)
