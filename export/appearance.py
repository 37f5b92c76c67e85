"""ONNX export of the appearance networks (U²-Netp saliency, EfficientNet-Lite0 backbone features) at
one input size each (static shapes: a graph per working resolution, as the other feature networks)."""
from __future__ import annotations

from .onnx_utils import export_module


def export_image_network(module, out_path: str, height: int, width: int, output: str, fp16: bool = False) -> str:
    """``module`` maps an ``image [B, 3, height, width]`` to one output named ``output``."""
    import torch

    return export_module(module, (torch.zeros(1, 3, height, width),), out_path, ("image",), (output,),
                         dynamic_axes={"image": {0: "batch"}, output: {0: "batch"}}, fp16=fp16)
