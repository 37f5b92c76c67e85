"""Is the device that ``--device`` names there? Asked once, before any stage is built.

ONNX Runtime falls back to its CPU provider without a word when it has no CUDA provider, and a
PyTorch module stays where it is put: a run that asked for CUDA would quietly run on the CPU. It fails
instead, with one line that says what is missing (exit code 6).
"""
from __future__ import annotations

from ..errors import UnavailableError


def check_device(config) -> None:
    """Raise ``UnavailableError`` when ``config.device`` is CUDA and the chosen backend cannot use it.
    TensorRT checks for itself (its loader needs TensorRT and a GPU); an explicit ``ort_providers``
    option is the user's own choice of ONNX Runtime providers and is not second-guessed."""
    if not str(getattr(config, "device", "cpu")).startswith("cuda"):
        return
    backend = getattr(config, "backend", "onnxruntime")
    if backend == "onnxruntime" and not (getattr(config, "extra", None) or {}).get("ort_providers"):
        import onnxruntime as ort

        have = ort.get_available_providers()
        if "CUDAExecutionProvider" not in have:
            raise UnavailableError(f"--device cuda: this onnxruntime ({ort.__version__}) has no CUDA provider "
                                   f"(it has {', '.join(have)}); install onnxruntime-gpu, or use --device cpu")
    elif backend == "torch":
        try:
            import torch
        except ModuleNotFoundError:
            return  # the torch backend's own import reports it
        if not torch.cuda.is_available():
            raise UnavailableError(f"--device cuda: PyTorch {torch.__version__} sees no CUDA device; "
                                   f"use --device cpu")
