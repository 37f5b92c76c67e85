"""ONNX export of the appearance networks (U²-Netp saliency, EfficientNet-Lite0 backbone features) at
one input size each (static shapes: a graph per working resolution, as the other feature networks)."""
from __future__ import annotations

from .onnx_utils import export_module


def export_saliency(module, out_path: str, height: int, width: int, fp16: bool = False) -> str:
    import torch

    return export_module(module, (torch.zeros(1, 3, height, width),), out_path, ("image",), ("saliency",),
                         dynamic_axes={"image": {0: "batch"}, "saliency": {0: "batch"}}, fp16=fp16)


def export_backbone(module, out_path: str, height: int, width: int, fp16: bool = False) -> str:
    import torch

    return export_module(module, (torch.zeros(1, 3, height, width),), out_path, ("image",), ("features",),
                         dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}}, fp16=fp16)
