"""The train stage: fit a registered model on the feature store's train split and calibrate it
on the validation split; the training loop in small pieces (sampler, regularisation, weight
averaging, early stopping, the loop itself, estimators)."""
