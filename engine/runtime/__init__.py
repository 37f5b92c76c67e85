"""The runtime layer, Polygraphy-style: one folder per backend (``onnxruntime/``, ``tensorrt/``,
``torch/``), each with a *loader* (builds or loads a session / engine / module lazily), a *runner*
(executes it, behind :class:`~.base.Runner`) and a ``backend.py`` (:class:`~.backend.Backend`: its
policies); the table of backends is :mod:`.backends`. Stages describe their networks once
(:mod:`.network`) and get runners from the one dispatcher (:mod:`.dispatch`).

Heavy imports (onnxruntime, tensorrt, torch) are deferred to the loaders.
"""
from .base import Loader, Runner
from .dispatch import make_runner, make_runners
from .network import Graph, NetworkSpec

__all__ = ["Graph", "Loader", "NetworkSpec", "Runner", "make_runner", "make_runners"]
