"""Native TensorRT as a backend: the float32 export built into an engine (fp16 by the builder on
TensorRT 10, by a converted graph on TensorRT 11) with the graph's shape profiles, cached under
``<artifacts>/trt`` by the graph's name; ``build`` compiles the same entries ahead."""
from __future__ import annotations

from typing import Optional

from ...errors import UnavailableError
from ..backend import Backend
from .loader import EngineFromOnnx, import_tensorrt
from .runner import TrtRunner


def _loader(graph, config, onnx_path, log) -> EngineFromOnnx:
    from ..dispatch import artifacts_dir

    return EngineFromOnnx(onnx_path, fp16=bool(config.fp16), profiles=graph.shape_profiles(),
                          cache_dir=str(artifacts_dir(config) / "trt"), name=graph.name, log=log)


class TensorrtBackend(Backend):
    name = "trt"
    title = "TensorRT"
    build_fallback = "onnxruntime"  # without TensorRT, `build` says so and prepares ONNX Runtime sessions

    def missing(self, build: bool = False) -> Optional[str]:
        """Running needs TensorRT's runtime (``tensorrt`` or ``tensorrt_lean``); building its builder."""
        try:
            import_tensorrt(builder=build)
        except UnavailableError as exc:
            return str(exc)
        return None

    def runner(self, graph, config, onnx_path, log) -> TrtRunner:
        return TrtRunner(_loader(graph, config, onnx_path, log))

    def prepare(self, graph, config, onnx_path, log) -> None:
        _loader(graph, config, onnx_path, log).serialized_engine()
