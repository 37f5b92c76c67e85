"""Pick a runner for an ONNX graph by backend name. Each backend is imported only when asked for."""
from __future__ import annotations

from typing import Optional, Sequence

from .base import Runner

BACKENDS = ("onnxruntime", "trt")


def available_backends() -> list[str]:
    found = []
    try:
        import onnxruntime  # noqa: F401

        found.append("onnxruntime")
    except ImportError:
        pass
    try:
        import tensorrt  # noqa: F401

        found.append("trt")
    except ImportError:
        pass
    return found


def make_runner(onnx_path: str, backend: str = "onnxruntime", *, fp16: bool = False,
                providers: Optional[Sequence[str]] = None, **kwargs) -> Runner:
    """Return an (inactive) runner for ``onnx_path`` on ``backend``."""
    if backend == "onnxruntime":
        from .onnxruntime import OnnxrtRunner, SessionFromOnnx

        return OnnxrtRunner(SessionFromOnnx(onnx_path, providers=providers,
                                            intra_op_threads=kwargs.get("intra_op_threads")))
    if backend == "trt":
        from .tensorrt import EngineFromOnnx, TrtRunner  # noqa: F401  (added by the TensorRT backend)

        return TrtRunner(EngineFromOnnx(onnx_path, fp16=fp16, **kwargs))
    raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
