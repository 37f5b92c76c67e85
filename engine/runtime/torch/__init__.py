"""PyTorch backend: the reference path, same runner interface as the ONNX backends."""
from .runner import ModuleLoader, TorchRunner, make_torch_runner

__all__ = ["ModuleLoader", "TorchRunner", "make_torch_runner"]
