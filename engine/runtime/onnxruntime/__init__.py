from .loader import SessionFromOnnx
from .runner import OnnxrtRunner

__all__ = ["SessionFromOnnx", "OnnxrtRunner"]
