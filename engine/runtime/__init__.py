"""Runtime backends, Polygraphy-style: one folder per backend, each with a *loader* (builds or loads a
session lazily) and a *runner* (executes it), all behind :class:`~motionseg_trt.runtime.base.Runner`.

Heavy imports (onnxruntime, tensorrt) are deferred to the loaders.
"""
from .base import Loader, Runner
from .registry import available_backends, make_runner

__all__ = ["Loader", "Runner", "available_backends", "make_runner"]
