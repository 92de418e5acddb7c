"""Transfer model: logistic regression on pretrained MusiCNN segment embeddings.

The features stage stores, beside each segment's features, the 753-d embedding of the same
3 s of audio from a network pretrained on a large tagged music collection (`features.embedding`,
see features/musicnn.py). This model is a linear classifier on those embeddings: it is fitted on
every training segment (augmented copies included) and scores a track, like the neural models,
by averaging its segments' log-probabilities. With a few dozen labelled tracks it starts from
what the network learned on hundreds of thousands; nothing of the network is retrained.
"""

from dataclasses import dataclass

from musicgenre.core.errors import ConfigError
from musicgenre.models.spec import ModelSpec


@dataclass
class TransferConfig:
    C: float = 1.0  # inverse L2 strength of the logistic regression (scikit-learn's default)

    def check(self, key: str) -> None:
        if self.C <= 0:
            raise ConfigError(f"{key}.C: must be > 0, got {self.C}")


def build_classifier(cfg: TransferConfig, seed: int):
    """(lbfgs is deterministic: the seed is not needed.)"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=cfg.C, max_iter=5000))


SPEC = ModelSpec("transfer", TransferConfig, reads="embeddings", estimator=build_classifier)
