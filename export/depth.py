"""Export Depth-Anything-V2 disparity (network + bicubic resize to the working size + per-frame
min-max) to ONNX. Input ``[B, 3, h, w]`` normalised frames at the network size (see
``depth_input_size``), output ``[B, H, W]`` float32 in [0, 1]; batch dynamic."""
from __future__ import annotations

from typing import Optional

from .onnx_utils import OPSET, export_module

INPUT_NAMES = ("pixel_values",)
OUTPUT_NAMES = ("disparity",)


def export_depth(out_path: str, height: int, width: int, *, variant: str = "small",
                 weights: Optional[str] = None, fp16: bool = False, side: int = 518,
                 num_layers: Optional[int] = None, seed: Optional[int] = 0, batch: int = 1,
                 opset: int = OPSET, module=None) -> str:
    """Write the ONNX graph for a ``height x width`` working resolution; returns ``out_path``.

    ``weights``: a local transformers Depth-Anything-V2 checkpoint; random weights without it.
    """
    import torch

    from motionseg_trt.features.depth import DepthSpec, build_depth_disparity

    if module is None:
        module = build_depth_disparity(height, width, DepthSpec(variant, side), weights=weights,
                                       num_layers=num_layers, seed=seed)
    example = torch.zeros(batch, 3, *module.input_hw)
    return export_module(module, (example,), out_path, INPUT_NAMES, OUTPUT_NAMES,
                         dynamic_axes={"pixel_values": {0: "batch"}, "disparity": {0: "batch"}},
                         opset=opset, fp16=fp16)
