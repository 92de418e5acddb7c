"""Pretrained MusiCNN embeddings: a PyTorch port of Pons & Serra's musicnn (2019).

musicnn is a tagging CNN trained on large tagged music collections: `MSD_musicnn` on the
Million Song Dataset's 50 most used last.fm tags, `MTT_musicnn` on MagnaTagATune's 50. The
same package ships a VGG-like baseline trained on each (`MSD_vgg`, `MTT_vgg`). The weights
are TensorFlow checkpoints; they are read with `tfcheckpoint` and run by the networks below,
which mirror the original graphs layer by layer (same padding, batch-norm epsilon and feature
order), so no TensorFlow is needed.

For genre classification with few labelled tracks a network is a fixed feature extractor:
each segment of 16 kHz audio (3 s, the length the networks were trained on) gives one of
(`features.embedding_layer`): the 50 tag probabilities (`taggram`; MSD's tags include rock,
pop, jazz, metal, blues, country and hip-hop, learned from a million songs), the last hidden
layer (`penultimate`), or musicnn's 753 max-pooled mid-level feature maps (`max_pool`).
Which carries genre best across artists is measured in docs/results.md.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicgenre.core.errors import ConfigError
from musicgenre.features.components import EMBEDDING_LAYERS, EMBEDDINGS, architecture
from musicgenre.features.tfcheckpoint import CheckpointError, read_checkpoint

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default


def log_mel(audio: np.ndarray) -> np.ndarray:
    """musicnn's input representation of 16 kHz audio: [frames, 96]."""
    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                         n_fft=N_FFT, n_mels=N_MELS)
    return np.log10(10000 * mel + 1).T.astype(np.float32)


class _BatchNorm(nn.Module):
    """Inference-only batch norm over dimension 1 with TensorFlow's stored statistics."""

    def __init__(self, weights: dict[str, np.ndarray], name: str) -> None:
        super().__init__()
        scale = weights[f"{name}/gamma"] / np.sqrt(weights[f"{name}/moving_variance"] + BN_EPS)
        shift = weights[f"{name}/beta"] - weights[f"{name}/moving_mean"] * scale
        self.register_buffer("scale", torch.from_numpy(scale.astype(np.float32)))
        self.register_buffer("shift", torch.from_numpy(shift.astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.scale.view(shape) + self.shift.view(shape)


def _conv(weights: dict[str, np.ndarray], name: str, one_d: bool = False) -> nn.Module:
    """A convolution holding TensorFlow's [height, width, in, out] kernel as PyTorch's
    [out, in, height, width]; `one_d`: a [7, channels, 1, out] kernel over [time, channels]
    is a 1-D convolution over time with `channels` inputs."""
    kernel = weights[f"{name}/kernel"]
    if one_d:
        layer = nn.Conv1d(kernel.shape[1], kernel.shape[3], kernel.shape[0])
        value = kernel[:, :, 0, :].transpose(2, 1, 0)
    else:
        layer = nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2])
        value = kernel.transpose(3, 2, 0, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(value.copy()))
        layer.bias.copy_(torch.from_numpy(weights[f"{name}/bias"]))
    return layer


def _dense(weights: dict[str, np.ndarray], name: str) -> nn.Linear:
    kernel = weights[f"{name}/kernel"]  # [in, out]
    layer = nn.Linear(*kernel.shape)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(kernel.T.copy()))
        layer.bias.copy_(torch.from_numpy(weights[f"{name}/bias"]))
    return layer


class MusiCNN(nn.Module):
    """musicnn (front end, mid end, back end) in inference mode.

    Input [batch, frames, 96] log-mel; `forward` returns the tag logits and the 753-d max-pool
    embedding. Layer names follow the order TensorFlow created them in the original graph.
    """

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        bn = [f"batch_normalization{'' if i == 0 else f'_{i}'}" for i in range(11)]
        conv = [f"conv2d{'' if i == 0 else f'_{i}'}" for i in range(8)]
        self.input_norm = _BatchNorm(weights, bn[0])
        # front end: two timbral (7 frames x 38 and x 67 mel bins) and three temporal (128,
        # 64, 32 frames x 1 bin) convolutions, each max-pooled over all frequency
        self.timbral = nn.ModuleList(_conv(weights, conv[i]) for i in range(2))
        self.temporal = nn.ModuleList(_conv(weights, conv[i]) for i in range(2, 5))
        self.front_norms = nn.ModuleList(_BatchNorm(weights, bn[i]) for i in range(1, 6))
        # mid end: three 7-frame 1-D convolutions, the last two residual
        self.mid = nn.ModuleList(_conv(weights, conv[i], one_d=True) for i in range(5, 8))
        self.mid_norms = nn.ModuleList(_BatchNorm(weights, bn[i]) for i in range(6, 9))
        # back end: [max, mean] over time -> dense 200 -> tag logits
        self.pool_norm = _BatchNorm(weights, bn[9])
        self.dense = _dense(weights, "dense")
        self.dense_norm = _BatchNorm(weights, bn[10])
        self.output = _dense(weights, "dense_1")
        self.requires_grad_(False)

    def feature_maps(self, spec: torch.Tensor) -> torch.Tensor:
        """[B, T, 96] log-mel -> [B, 753, T] front- and mid-end feature maps, frame by frame
        (the network is convolutional in time, so T may be any length)."""
        x = self.input_norm(spec.unsqueeze(1))  # [B, 1, T, 96]
        maps = []
        timbral_in = F.pad(x, (0, 0, 3, 3))  # zero-pad time only, then 'valid' convolutions
        for layer, norm in zip(self.timbral, self.front_norms[:2], strict=True):
            maps.append(norm(F.relu(layer(timbral_in))).amax(dim=3))
        for layer, norm in zip(self.temporal, self.front_norms[2:], strict=True):
            span = layer.kernel_size[0] - 1  # TensorFlow 'same': the odd row goes after
            h = F.relu(layer(F.pad(x, (0, 0, span // 2, span - span // 2))))
            maps.append(norm(h).amax(dim=3))
        front = torch.cat(maps, dim=1)  # [B, 561, T]

        outputs = [front]
        h = front
        for k, (layer, norm) in enumerate(zip(self.mid, self.mid_norms, strict=True)):
            out = norm(F.relu(layer(F.pad(h, (3, 3)))))
            h = out if k == 0 else out + h
            outputs.append(h)
        return torch.cat(outputs, dim=1)  # [B, 753, T]

    def forward(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, T, 96] log-mel -> (tag logits [B, 50], max-pool embedding [B, 753])."""
        features = self.feature_maps(spec)
        max_pool = features.amax(dim=2)
        return self.back_end(max_pool, features.mean(dim=2))[0], max_pool

    def back_end(self, max_pool: torch.Tensor, mean_pool: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(tag logits, penultimate layer) from the feature maps' max and mean over time."""
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF's flatten order
        hidden = self.dense_norm(F.relu(self.dense(self.pool_norm(pooled))))
        return self.output(hidden), hidden

    def span_layer(self, maps: torch.Tensor, layer: str) -> torch.Tensor:
        """[B, 753, frames] feature maps of B spans -> the chosen layer of each [B, dim]."""
        max_pool = maps.amax(dim=2)
        if layer == "max_pool":
            return max_pool
        logits, hidden = self.back_end(max_pool, maps.mean(dim=2))
        return torch.sigmoid(logits) if layer == "taggram" else hidden


class VGG(nn.Module):
    """musicnn's VGG-like baseline in inference mode: five 3x3 convolutions of 128 filters
    (ReLU, batch norm, max-pool), then one dense layer to the 50 tags. Its dense layer takes
    exactly one 3-s patch ([B, 187, 96] log-mel)."""

    # (pool size, stride) after each convolution, in (time, frequency), 'valid' as in TF
    POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)),
             ((4, 4), (4, 4)))

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.input_norm = _BatchNorm(weights, "batch_normalization")
        self.convs = nn.ModuleList(_conv(weights, f"{i}CNN") for i in range(1, 6))
        self.norms = nn.ModuleList(_BatchNorm(weights, f"batch_normalization_{i}")
                                   for i in range(1, 6))
        self.output = _dense(weights, "dense")
        self.requires_grad_(False)

    def forward(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 187, 96] log-mel -> (tag logits [B, 50], flattened last pooling [B, 256])."""
        x = self.input_norm(spec.unsqueeze(1))
        for conv, norm, (size, stride) in zip(self.convs, self.norms, self.POOLS, strict=True):
            x = F.max_pool2d(norm(F.relu(conv(F.pad(x, (1, 1, 1, 1))))), size, stride)
        flat = x.permute(0, 2, 3, 1).flatten(1)  # TF flattens [time, frequency, channel]
        return self.output(flat), flat

    def patch_layer(self, patches: torch.Tensor, layer: str) -> torch.Tensor:
        logits, flat = self(patches)
        return torch.sigmoid(logits) if layer == "taggram" else flat


@lru_cache(maxsize=4)
def load_musicnn(name: str = "MSD_musicnn") -> MusiCNN | VGG:
    """A pretrained network shipped in the `musicnn` package (installed without its deps)."""
    if name not in EMBEDDINGS:
        raise ConfigError(f"unknown musicnn model '{name}'; choose one of {list(EMBEDDINGS)}")
    try:
        folder = resources.files("musicnn") / name
    except ModuleNotFoundError as exc:
        raise ConfigError("the pretrained musicnn weights are missing: "
                          "pip install --no-deps musicnn==0.1.0 (see README)") from exc
    # the checkpoint's file prefix is the empty name inside the model folder
    return network_from_weights(read_checkpoint(str(folder) + "/"), str(folder))


def network_from_weights(weights: dict[str, np.ndarray], source: str,
                        kind: str = "musicnn") -> MusiCNN | VGG:
    """Build the network (`kind`: musicnn | vgg) and check it is that network: every tensor
    present, shapes that fit together, the embedding width and 50 tags for a 3-s patch.
    Anything else is one line."""
    if source.rstrip("/").endswith("_vgg"):
        kind = "vgg"
    try:
        network = (VGG if kind == "vgg" else MusiCNN)(weights).eval()
        with torch.no_grad():
            tags, embedding = network(torch.zeros(1, patch_frames(3.0), N_MELS))
    except (KeyError, RuntimeError, ValueError, IndexError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise CheckpointError(f"{source}: not the {kind} network ({reason})") from None
    width = EMBEDDING_LAYERS["max_pool" if kind == "musicnn" else "penultimate"][kind]
    if embedding.shape != (1, width) or tags.shape != (1, 50):
        raise CheckpointError(f"{source}: not the {kind} network (embedding "
                              f"{tuple(embedding.shape)}, tags {tuple(tags.shape)})")
    return network


def patch_frames(duration_s: float) -> int:
    """Input frames for `duration_s` of audio, as musicnn counts them (187 for its 3 s)."""
    return int(librosa.time_to_frames(duration_s, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                      n_fft=N_FFT)) + 1


def patch_starts(n_frames: int, starts_s: list[float], frames: int) -> list[int]:
    """First network frame of each span starting at `starts_s` (kept inside the track)."""
    last = max(n_frames - frames, 0)
    return [min(int(round(t * SAMPLE_RATE / HOP_LENGTH)), last) for t in starts_s]


# Feature maps are computed over whole windows of the track: at most this many frames
# (about 2 min) at once, which bounds memory (~0.4 GB for the front end's widest layer).
WINDOW_FRAMES = 7500


def embed_segments(audio: np.ndarray, sample_rate: int, starts_s: list[float],
                   duration_s: float = 3.0, name: str = "MSD_musicnn",
                   device: str = "cpu", layer: str = "max_pool") -> np.ndarray:
    """[len(starts_s), dim] embeddings of the `duration_s` spans starting at these times:
    `layer` of each network in `name` (one, or several joined by '+', concatenated).

    musicnn runs once over the whole track (in windows of up to WINDOW_FRAMES) and each span
    pools its frames' feature maps, instead of running once per span: overlapping 3-s segments
    every 1.5 s would compute each frame twice. A frame near a span's edge then sees its real
    neighbours instead of the zero padding of an isolated 3-s patch. VGG reads each 3-s patch.

    Why seven parameters: the signal, where its spans start and how long they are, which
    networks and layer, and where to run are each the caller's separate choice.
    """
    if sample_rate != SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    spec = log_mel(audio)
    frames = patch_frames(duration_s)
    if len(spec) < frames:  # a short (padded) track: pad with a zero log-mel, i.e. silence
        spec = np.pad(spec, ((0, frames - len(spec)), (0, 0)))
    firsts = patch_starts(len(spec), starts_s, frames)
    networks = name.split("+")
    if not firsts:
        width = sum(EMBEDDING_LAYERS[layer][architecture(n)] for n in networks)
        return np.empty((0, width), np.float32)
    parts = []
    for network in networks:
        if architecture(network) == "vgg":
            patches = np.stack([spec[s:s + frames] for s in firsts])
            parts.append(_vgg_patches(patches, network, layer, device))
        else:
            maps = torch.from_numpy(track_feature_maps(spec, network, device))  # [753, T]
            spans = torch.stack([maps[:, s:s + frames] for s in firsts]).to(device)
            with torch.no_grad():
                pooled = load_musicnn(network).span_layer(spans, layer)
            parts.append(pooled.float().cpu().numpy())
    return np.concatenate(parts, axis=1).astype(np.float32)


def _vgg_patches(patches: np.ndarray, name: str, layer: str, device: str) -> np.ndarray:
    """[n, 187, 96] log-mel patches -> [n, dim], 64 patches at a time."""
    network = load_musicnn(name).to(device)
    out = []
    with torch.no_grad():
        for start in range(0, len(patches), batch := 64):
            x = torch.from_numpy(patches[start:start + batch]).to(device)
            out.append(network.patch_layer(x, layer).float().cpu().numpy())
    return np.concatenate(out)


def track_feature_maps(spec: np.ndarray, name: str = "MSD_musicnn",
                       device: str = "cpu") -> np.ndarray:
    """[753, T] feature maps of a [T, 96] log-mel, in windows of at most WINDOW_FRAMES."""
    network = load_musicnn(name).to(device)
    parts = []
    with torch.no_grad():
        for start in range(0, len(spec), WINDOW_FRAMES):
            window = torch.from_numpy(np.ascontiguousarray(spec[start:start + WINDOW_FRAMES]))
            parts.append(network.feature_maps(window[None].to(device))[0].float().cpu().numpy())
    return np.concatenate(parts, axis=1)


def embed_all_layers(audio: np.ndarray, sample_rate: int, starts_s: list[float],
                     name: str, duration_s: float = 3.0) -> dict[str, np.ndarray]:
    """Every layer of one network for the spans starting at `starts_s` ({layer: [n, dim]}),
    computing the network once: what the representation study compares."""
    if sample_rate != SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    spec = log_mel(audio)
    frames = patch_frames(duration_s)
    if len(spec) < frames:
        spec = np.pad(spec, ((0, frames - len(spec)), (0, 0)))
    firsts = patch_starts(len(spec), starts_s, frames)
    layers = [layer for layer, widths in EMBEDDING_LAYERS.items()
              if architecture(name) in widths]
    if architecture(name) == "vgg":
        patches = np.stack([spec[s:s + frames] for s in firsts])
        return {layer: _vgg_patches(patches, name, layer, "cpu") for layer in layers}
    maps = torch.from_numpy(track_feature_maps(spec, name))
    spans = torch.stack([maps[:, s:s + frames] for s in firsts])
    network = load_musicnn(name)
    with torch.no_grad():
        return {layer: network.span_layer(spans, layer).numpy() for layer in layers}
