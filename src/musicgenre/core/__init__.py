"""What every part of the pipeline shares and that knows nothing of music: errors, typed
params parsing, atomic writes, process pools, devices, the stage runner, package versions and
the metrics (accuracy, intervals, calibration error) that training and evaluation both need."""
