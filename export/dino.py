"""Export DINOv2 key features (the official SegAnyMo descriptor) to ONNX for a working resolution.

The graph takes ImageNet-normalised frames already resized to multiples of 14 (``[B, 3, H14, W14]``,
batch dynamic) and returns ``[B, h', w', C]`` keys. Position embeddings are baked for the grid, so
the graph has no Resize at all (checked by ``tests/test_dino.py``).
"""
from __future__ import annotations

from typing import Optional

from .onnx_utils import OPSET, export_module

INPUT_NAMES = ("pixel_values",)
OUTPUT_NAMES = ("dino_keys",)


def export_dino(out_path: str, height: int, width: int, *, variant: str = "vitb14", stride: int = 7,
                layer: int = 11, weights: Optional[str] = None, fp16: bool = False,
                num_layers: Optional[int] = None, seed: Optional[int] = 0, batch: int = 1,
                opset: int = OPSET, module=None) -> str:
    """Write the ONNX graph for a ``height x width`` working resolution; returns ``out_path``.

    ``weights`` is a local DINOv2 checkpoint (torch-hub .pth or a transformers folder/safetensors);
    without it the weights are random (plumbing and parity only). ``module`` exports an already built
    :class:`~motionseg_trt.features.dino.DinoKeyFeatures` instead.
    """
    import torch

    from motionseg_trt.features.dino import DinoSpec, build_dino_key_features

    if module is None:
        module = build_dino_key_features(height, width, DinoSpec(variant, stride, layer), weights=weights,
                                         num_layers=num_layers, seed=seed)
    example = torch.zeros(batch, 3, *module.input_hw)
    return export_module(module, (example,), out_path, INPUT_NAMES, OUTPUT_NAMES,
                         dynamic_axes={"pixel_values": {0: "batch"}, "dino_keys": {0: "batch"}},
                         opset=opset, fp16=fp16)
