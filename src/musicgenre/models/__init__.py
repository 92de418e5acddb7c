"""The model registry: a name in params.yaml -> its config dataclass and its class.

Neural models map [batch, feature rows, frames] to class logits. The baseline is a
scikit-learn pipeline on per-track statistics (see baseline.py); the transfer model one on
pretrained segment embeddings (see transfer.py).
"""

from musicgenre.models.baseline import BaselineConfig
from musicgenre.models.cnn import CNN, CNNConfig
from musicgenre.models.crnn import CRNN, CRNNConfig
from musicgenre.models.rnn import RNN, RNNConfig
from musicgenre.models.transfer import TransferConfig

NEURAL = {"cnn": (CNNConfig, CNN), "rnn": (RNNConfig, RNN), "crnn": (CRNNConfig, CRNN)}
CONFIGS = {name: cfg for name, (cfg, _) in NEURAL.items()} | {"baseline": BaselineConfig,
                                                              "transfer": TransferConfig}


def build_model(name: str, cfg, n_rows: int, n_frames: int, n_classes: int):
    return NEURAL[name][1](cfg, n_rows, n_frames, n_classes)
