"""Shared pytest set-up: tests/ on sys.path (so ``from _video import ...`` works from any test
module), one thread per library (the CI machine is small and shared), an empty cache, and
small-video fixtures."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# An empty cache of our own (weights, exported graphs, engines), removed at the end: tests never touch
# the user's ~/.cache/motionseg-trt, and every run sees what a first run on a fresh machine sees.
_CACHE = tempfile.mkdtemp(prefix="motionseg-test-cache-")
os.environ["MOTIONSEG_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture(scope="session")
def pan_clip_mp4(tmp_path_factory):
    """A 24-frame 160x120 H.264 clip: camera pan, one moving square, one static look-alike."""
    from _video import make_pan_clip

    path = str(tmp_path_factory.mktemp("clips") / "pan.mp4")
    clip = make_pan_clip(path, n_frames=24, size=(160, 120))
    return path, clip
