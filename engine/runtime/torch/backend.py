"""PyTorch as a backend: the module each graph is exported from, run as is (the reference path);
``--fp16`` is autocast on CUDA (CPU half kernels are slow or missing)."""
from __future__ import annotations

import importlib.util
from typing import Optional

from ...errors import UnavailableError
from ..backend import Backend
from .runner import ModuleLoader, TorchRunner


class TorchBackend(Backend):
    name = "torch"
    title = "PyTorch"
    runs_onnx = False

    def missing(self, build: bool = False) -> Optional[str]:
        return None if importlib.util.find_spec("torch") else "PyTorch is not installed (pip install torch)"

    def check_device(self, config) -> None:
        if not str(config.device).startswith("cuda") or self.missing():
            return  # no torch: the first runner reports it
        import torch

        if not torch.cuda.is_available():
            raise UnavailableError(f"--device cuda: PyTorch {torch.__version__} sees no CUDA device; "
                                   f"use --device cpu")

    def runner(self, graph, config, onnx_path, log) -> TorchRunner:
        device = str(config.device or "cpu")
        return TorchRunner(ModuleLoader(graph.module, device), graph.input_names, graph.output_names,
                           device=device, fp16=bool(config.fp16), threads=config.threads)
