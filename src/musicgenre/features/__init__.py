"""Features: what a model reads for each segment of a track.

- config.py: the `features`, `augment` and `cluster` params.
- components.py: which features exist and how many rows each gives (no heavy imports).
- extract.py: one signal -> its feature matrix and fixed-length segments (librosa).
- augment.py: training-only augmentation (audiomentations), seeded per track.
- musicnn.py (+ tfcheckpoint.py): the pretrained MusiCNN network, for segment embeddings.
- store.py: the on-disk feature store: streamed .npy writers, normalisation statistics,
  loaders and `normalize`.
- build.py: the features stage: every track of every split, in parallel, into the store.

Predicting on new audio needs extract (and musicnn), never the stage's pool or writers.
"""
