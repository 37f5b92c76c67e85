"""Loads an ONNX file into an ONNX Runtime InferenceSession (CPU, CUDA or TensorRT execution provider)."""
from __future__ import annotations

import os
from typing import Optional, Sequence

from ..base import Loader

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
}


def resolve_providers(providers: Optional[Sequence[str]]) -> list[str]:
    """Map short names to ORT provider names, keep only those this onnxruntime build has, CPU last."""
    import onnxruntime as ort

    have = set(ort.get_available_providers())
    wanted = [PROVIDER_ALIASES.get(p.lower(), p) for p in (providers or ["cpu"])]
    chosen = [p for p in wanted if p in have]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


class SessionFromOnnx(Loader):
    def __init__(self, path: str, providers: Optional[Sequence[str]] = None,
                 intra_op_threads: Optional[int] = None):
        self.path = os.fspath(path)
        self.providers = providers
        self.intra_op_threads = intra_op_threads

    def __call__(self):
        import onnxruntime as ort

        if not os.path.exists(self.path):
            raise FileNotFoundError(f"ONNX file not found: {self.path}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.intra_op_threads:
            opts.intra_op_num_threads = int(self.intra_op_threads)
        # idle pool threads sleep instead of spinning: the tracker, the writer and the appearance worker
        # share the cores, and spinning threads took their time (DAVIS bear: 2.3 CPU-s less)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(self.path, sess_options=opts, providers=resolve_providers(self.providers))
        except Exception as exc:  # noqa: BLE001 - ORT raises its own classes (InvalidProtobuf, Fail, ...)
            from ...errors import ModelFileError

            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ModelFileError(f"ONNX Runtime cannot load {self.path}: {reason}") from None
