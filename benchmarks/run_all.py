"""`make bench`: run every benchmark script in turn."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_features.py", "bench_embeddings.py", "bench_cluster.py", "bench_training.py",
              "bench_predict.py", "bench_fma_cost.py"]

for script in BENCHMARKS:
    subprocess.run([sys.executable, str(HERE / script)], check=True)
