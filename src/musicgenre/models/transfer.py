"""Transfer model: a linear probe on a track's pretrained MusiCNN embeddings.

The features stage stores, beside each segment's features, an embedding of the same 3 s of
audio from networks pretrained on large tagged music collections (`features.embedding` and
`features.embedding_layer`, see features/musicnn.py; by default the 50 tag probabilities of
both musicnn networks). This model averages a track's segment embeddings into one vector
and classifies it; every augmented copy of a training track is one more example. With a few
dozen labelled tracks it starts from what the networks learned on hundreds of thousands of
songs; nothing of the networks is retrained.

Why the track mean and these defaults: artist-grouped cross-validation on 117 real GTZAN
tracks (docs/results.md) scored every network, layer, pooling and probe of the musicnn
package; the mean taggram of MSD_musicnn + MTT_musicnn with a standardised logistic
regression generalised best to artists never trained on. Classifying segments one by one
and averaging (the previous transfer model) or training on sub-windows of a track scored
lower: with this few artists the probe learns each artist's quirks from single segments.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

from musicgenre.core.errors import ConfigError
from musicgenre.models.spec import ModelSpec


@dataclass
class TransferConfig:
    probe: Literal["logreg", "svm", "pca_svm"] = "logreg"  # pca_svm: the principal
    # components that keep 95% of the training examples' variance, then the SVM
    C: float = 10.0  # inverse regularisation strength of the probe

    def check(self, key: str) -> None:
        if not self.C > 0 or self.C == float("inf"):
            raise ConfigError(f"{key}.C: must be a finite number > 0, got {self.C}")


def mean_embedding(segments: np.ndarray) -> np.ndarray:
    """[n_segments, dim] -> [dim]: the track's average embedding (average tag probability)."""
    return np.asarray(segments, dtype=np.float32).mean(axis=0)


def build_classifier(cfg: TransferConfig, seed: int):
    """(lbfgs is deterministic; the SVM's probability calibration uses the seed.)"""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if cfg.probe == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(C=cfg.C, max_iter=10000))
    svm = SVC(C=cfg.C, kernel="rbf", probability=True, random_state=seed)
    if cfg.probe == "svm":
        return make_pipeline(StandardScaler(), svm)
    # a variance share, not a count: valid for any embedding width and number of tracks
    return make_pipeline(StandardScaler(), PCA(0.95, svd_solver="full"), svm)


SPEC = ModelSpec("transfer", TransferConfig, reads="embeddings", estimator=build_classifier,
                 track_summary=mean_embedding)
