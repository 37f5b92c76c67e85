"""Native TensorRT backend: engine build + cache (``loader``, ``cache``) and execution (``runner``).

Importing this package never imports ``tensorrt``; the loaders do, when asked to build or load.
"""
from .cache import EngineCache, EngineKey, normalize_profiles, onnx_digest
from .loader import EngineFromOnnx, EngineFromPlan, fp16_onnx, import_tensorrt
from .runner import TrtRunner

__all__ = ["EngineCache", "EngineKey", "EngineFromOnnx", "EngineFromPlan", "TrtRunner", "fp16_onnx",
           "import_tensorrt", "normalize_profiles", "onnx_digest"]
