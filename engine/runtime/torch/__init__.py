"""PyTorch backend: the reference path, same runner interface as the ONNX backends."""
from .runner import ModuleLoader, TorchRunner

__all__ = ["ModuleLoader", "TorchRunner"]
