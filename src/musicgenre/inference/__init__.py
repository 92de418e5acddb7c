"""A trained model in use: checkpoint files, the `Classifier` (audio or features -> genre
probabilities, calibrated), scoring of labelled tracks, and prediction on audio files.
Training writes what this package reads; evaluation, the CLI and (later) serving read it."""
