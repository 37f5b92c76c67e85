"""Where motionseg-trt keeps files between runs: ``$MOTIONSEG_CACHE``, else ``~/.cache/motionseg-trt``.

Beneath it: ``weights/`` (``motionseg-trt download``), ``engines/`` (exported ONNX graphs and TensorRT
engines, ``motionseg-trt build``) and ``train/`` (the training data cache of the training package).
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE = "MOTIONSEG_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "motionseg-trt")
