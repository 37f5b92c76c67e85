"""The runtime backends, one row each (the idea of Ultralytics' ``export_formats()`` table): the name
``--backend`` takes, where the backend's class lives, whether ``build`` has something to prepare for
it, and one line of help. Each backend's code is one folder, ``runtime/<name>/`` (Polygraphy's
layout: ``loader.py`` makes the session / engine / module, ``runner.py`` runs it, ``backend.py`` ties
them to a graph and says the backend's policies). A new backend is that folder and one row here.
Backends are imported only when a run or build uses them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class BackendRow:
    name: str  # the --backend choice
    target: str  # "module:Class" of its Backend
    help: str
    builds: bool = True  # `build --backend` offers it (it runs exported graphs that can be prepared ahead)


BACKENDS: list[BackendRow] = [
    BackendRow("onnxruntime", "motionseg_trt.runtime.onnxruntime.backend:OnnxruntimeBackend",
               "ONNX Runtime: CPU; CUDA / TensorRT execution providers where installed"),
    BackendRow("trt", "motionseg_trt.runtime.tensorrt.backend:TensorrtBackend",
               "native TensorRT engines, cached by graph, GPU, TensorRT version, precision and shapes"),
    BackendRow("torch", "motionseg_trt.runtime.torch.backend:TorchBackend",
               "PyTorch: the modules the graphs are exported from (the reference)", builds=False),
]
DEFAULT_BACKEND = "onnxruntime"  # `run`: installed everywhere, no GPU needed
DEFAULT_BUILD_BACKEND = "trt"  # `build`: the one with something to compile


def backend_names(build: bool = False) -> list[str]:
    return [row.name for row in BACKENDS if row.builds or not build]


def get_backend(name: str):
    """The backend object of ``name`` (its module imported now)."""
    for row in BACKENDS:
        if row.name == name:
            module, _, attr = row.target.partition(":")
            return getattr(importlib.import_module(module), attr)()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(backend_names())}")
