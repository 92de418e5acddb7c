"""Everything that scores trained models and explains the scores: the evaluate and robustness
stages, the report and its figures, cross-validation and the ablation grid (which train and
score), and the pull-request comment."""
