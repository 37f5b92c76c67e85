"""The training package's tests: one thread per library (the CI machine is small and shared) and an
empty cache of their own (the training data cache included), removed at the end."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_CACHE = tempfile.mkdtemp(prefix="motionseg-training-test-cache-")
os.environ["MOTIONSEG_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
