"""The `Classifier`: a trained model with everything it needs to read audio.

It carries the model's spec (musicgenre.models), genre names, feature parameters, the
training-split normalisation statistics and the calibration temperature, and turns audio or
stored segments into genre log-probabilities: per segment, then per track (the mean of its
segments' log-probabilities, or for estimators that classify a summary of the whole track,
that summary's log-probabilities), then calibrated probabilities. Loading and saving are in
checkpoint.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicgenre.features.config import FeaturesConfig
from musicgenre.features.store import normalize
from musicgenre.models.spec import ModelSpec

UNKNOWN = "unknown"  # the answer for audio that is no music of the model's genres


@dataclass
class Classifier:
    spec: ModelSpec
    genres: list[str]
    features: FeaturesConfig
    mean: np.ndarray
    std: np.ndarray
    model: Any  # a torch.nn.Module (spec.network) or a fitted scikit-learn estimator
    info: dict = field(default_factory=dict)
    device: str = "cpu"  # where the neural model and the embedding network run
    temperature: float = 1.0  # track probabilities = softmax(track score / temperature)
    unknown_below: float = 0.0  # a top probability under this is `unknown` (calibration.py)
    novelty: Any = None  # a Novelty (novelty.py) for models that classify a track summary

    def track_probabilities(self, track_scores: np.ndarray) -> np.ndarray:
        """Calibrated genre probabilities from track scores (mean segment log-probabilities,
        or an estimator's score of a track summary); the ranking does not change."""
        from musicgenre.inference.calibration import softmax

        return softmax(track_scores, self.temperature)

    def label(self, proba: np.ndarray, distance: float | None = None) -> str:
        """The genre these calibrated probabilities name, or UNKNOWN when the top one is
        under the threshold chosen on validation tracks, or the track's summary is further
        from the training tracks than the validation tracks are (`distance`)."""
        top = int(np.argmax(proba))
        novel = (distance is not None and self.novelty is not None
                 and distance > self.novelty.above)
        return UNKNOWN if novel or proba[top] < self.unknown_below else self.genres[top]

    def novelty_distance(self, segments: np.ndarray) -> float | None:
        """How far this track's summary is from the training tracks' (None: no such test)."""
        if self.novelty is None or self.spec.track_summary is None:
            return None
        return float(self.novelty.distance(self.spec.track_summary(segments)[None])[0])

    def to(self, device: str) -> Classifier:
        """Run the networks on `device` (auto | cpu | cuda | mps; see musicgenre.core.devices)."""
        from musicgenre.core.devices import resolve_device

        self.device = resolve_device(device)
        if self.is_neural:
            self.model.to(self.device)
        return self

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def uses_embeddings(self) -> bool:
        return self.spec.uses_embeddings

    @property
    def is_neural(self) -> bool:
        return self.spec.is_neural

    def inputs_from_audio(self, audio: np.ndarray) -> np.ndarray:
        """What this model reads for each segment of `audio` (at features.sample_rate)."""
        from musicgenre.features.extract import segment_embeddings, segments_from_audio

        if self.uses_embeddings:
            return segment_embeddings(audio, self.features, self.device)
        return segments_from_audio(audio, self.features)

    def segment_log_probs(self, segments: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """[n, rows, frames] raw features (or [n, dim] embeddings) -> [n, classes]
        log-probabilities."""
        if len(segments) == 0:
            return np.zeros((0, len(self.genres)), dtype=np.float32)
        if not self.is_neural:
            summary = self.spec.track_summary
            if summary is None:
                return self._estimator_log_probs(np.asarray(segments))
            # a segment alone, summarised as if it were a whole track
            return self._estimator_log_probs(np.stack([summary(s[None]) for s in segments]))
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(segments), batch_size):
                x = normalize(segments[start:start + batch_size], self.mean, self.std)
                logits = self.model(torch.from_numpy(x).to(self.device)).float()
                out.append(torch.log_softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(out)

    def track_log_probs(self, segments: np.ndarray) -> np.ndarray:
        """All segments of one track -> [classes] track-level log-probabilities."""
        if not self.spec.averages_segments:
            return self._estimator_log_probs(self.spec.track_summary(segments)[None])[0]
        return self.segment_log_probs(segments).mean(axis=0)

    def _estimator_log_probs(self, x: np.ndarray) -> np.ndarray:
        """predict_proba's columns follow the labels seen in training (`classes_`); put them
        in their genre's column, so a genre absent from training scores ~0 instead of
        shifting every later genre by one."""
        proba = np.zeros((len(x), len(self.genres)))
        proba[:, np.asarray(self.model.classes_, dtype=int)] = self.model.predict_proba(x)
        return np.log(np.clip(proba, 1e-12, 1.0))
