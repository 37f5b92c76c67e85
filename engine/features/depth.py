"""Depth-Anything-V2 relative disparity, min-max scaled per frame, as the official pipeline computes it.

The official pipeline runs transformers' depth-estimation pipeline on each frame (the image processor
resizes so that the shorter side is ~518 px, both sides multiples of 14, and normalises), resizes the
predicted disparity bicubically back to the image size, and min-max scales each frame (then writes
it as a 16-bit PNG; the classifier reads it back through a saturating 8-bit conversion, which is
reproduced in the classifier's preprocessing, ``motion.classifier.preprocess``).
:class:`DepthAnythingDisparity` does the network, the bicubic resize to the working resolution and
the min-max scaling in one graph; the backbone's position embeddings are
baked for the network's input size so the graph keeps only the plain (non-antialiased) bicubic
resize of the output, which TensorRT supports.

This is a modelling module (imports torch); the engine imports it lazily.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .dino import (IMAGENET_MEAN, IMAGENET_STD, PATCH_SIZE, bake_position_embeddings,
                   legacy_transformers_keys, load_strict)

# The published Depth-Anything-V2 *-hf configs (depth-anything/Depth-Anything-V2-{Small,Base,Large}-hf).
DEPTH_VARIANTS = {
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, out_indices=[3, 6, 9, 12],
                  neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, out_indices=[3, 6, 9, 12],
                 neck_hidden_sizes=[96, 192, 384, 768], fusion_hidden_size=128),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, out_indices=[5, 12, 18, 24],
                  neck_hidden_sizes=[256, 512, 1024, 1024], fusion_hidden_size=256),
}
NETWORK_SIDE = 518  # the image processor's target size


@dataclass(frozen=True)
class DepthSpec:
    variant: str = "small"
    side: int = NETWORK_SIDE  # network input: shorter side ~ this many px (multiple of 14)

    def __post_init__(self):
        if self.variant not in DEPTH_VARIANTS:
            raise ValueError(f"unknown Depth-Anything variant {self.variant!r}; choose one of {sorted(DEPTH_VARIANTS)}")


def _multiple_of(value: float, multiple: int = PATCH_SIZE) -> int:
    return max(multiple, int(round(value / multiple) * multiple))


def depth_input_size(height: int, width: int, side: int = NETWORK_SIDE) -> tuple[int, int]:
    """The DPT image processor's size rule (keep aspect ratio, multiples of 14): of the two scales
    that would bring a side to ``side`` px, the one closer to 1 is used for both sides."""
    sh, sw = side / height, side / width
    scale = sw if abs(1 - sw) < abs(1 - sh) else sh
    return _multiple_of(scale * height), _multiple_of(scale * width)


def depth_config(variant: str = "small", num_layers: Optional[int] = None):
    """A transformers ``DepthAnythingConfig``; ``num_layers`` shrinks the backbone (tests) and spreads
    the four read-out layers over what is left."""
    from transformers import DepthAnythingConfig, Dinov2Config

    v = dict(DEPTH_VARIANTS[variant])
    layers = int(num_layers) if num_layers is not None else v["num_hidden_layers"]
    out_indices = v["out_indices"] if num_layers is None else \
        sorted({max(1, round(layers * (i + 1) / 4)) for i in range(4)} | {layers})[-4:]
    if len(out_indices) < 4:
        raise ValueError("a Depth-Anything backbone needs at least 4 layers")
    backbone = Dinov2Config(hidden_size=v["hidden_size"], num_hidden_layers=layers,
                            num_attention_heads=v["num_attention_heads"], image_size=NETWORK_SIDE,
                            patch_size=PATCH_SIZE, layerscale_value=1.0, out_indices=out_indices,
                            reshape_hidden_states=False, apply_layernorm=True)
    return DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=v["hidden_size"],
                               neck_hidden_sizes=v["neck_hidden_sizes"],
                               fusion_hidden_size=v["fusion_hidden_size"], head_hidden_size=32,
                               depth_estimation_type="relative", patch_size=PATCH_SIZE)


def build_depth_model(variant: str = "small", weights: Optional[str] = None, num_layers: Optional[int] = None,
                      seed: Optional[int] = None):
    from transformers import DepthAnythingForDepthEstimation

    config = depth_config(variant, num_layers)
    config.backbone_config._attn_implementation = "sdpa"
    if seed is not None:
        torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config).eval()
    if weights is not None:
        load_depth_weights(model, weights)
    return model


def load_depth_weights(model, path: str) -> None:
    """A transformers Depth-Anything-V2 checkpoint (``model.safetensors`` file or its folder),
    with transformers-4 or -5 attention names."""
    from ..state_dict import read_state_dict

    sd = legacy_transformers_keys(read_state_dict(path, "Depth-Anything-V2 weights")[0])
    if any(k.startswith("pretrained.") for k in sd):
        from ..errors import ModelFileError

        raise ModelFileError(f"{path} is an original Depth-Anything-V2 .pth; use the transformers "
                             "checkpoint (depth-anything/Depth-Anything-V2-*-hf, model.safetensors), "
                             "which `motionseg-trt download` fetches")
    load_strict(model, sd, f"Depth-Anything-V2 weights {path}")


class DepthAnythingDisparity(nn.Module):
    """Normalised frames [B, 3, h, w] (network size) -> disparity [B, H, W] in [0, 1] per frame."""

    def __init__(self, model, input_hw: tuple[int, int], output_hw: tuple[int, int]):
        super().__init__()
        self.input_hw = tuple(int(s) for s in input_hw)
        self.output_hw = tuple(int(s) for s in output_hw)
        if self.input_hw[0] % PATCH_SIZE or self.input_hw[1] % PATCH_SIZE:
            raise ValueError(f"network input {self.input_hw} must be a multiple of {PATCH_SIZE}")
        bake_position_embeddings(model.backbone.embeddings,
                                 (self.input_hw[0] // PATCH_SIZE, self.input_hw[1] // PATCH_SIZE), mode="hf")
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        disp = self.model(pixel_values, return_dict=False)[0]  # [B, h, w], ReLU'd relative disparity
        disp = F.interpolate(disp[:, None].float(), size=self.output_hw, mode="bicubic",
                             align_corners=False)[:, 0]
        lo = disp.amin(dim=(1, 2), keepdim=True)
        hi = disp.amax(dim=(1, 2), keepdim=True)
        # a constant frame gives 0 everywhere, as the official to_uint16
        return (disp - lo) / torch.clamp(hi - lo, min=1e-12)


def build_depth_disparity(height: int, width: int, spec: DepthSpec = DepthSpec(), weights: Optional[str] = None,
                          num_layers: Optional[int] = None, seed: Optional[int] = None) -> DepthAnythingDisparity:
    model = build_depth_model(spec.variant, weights=weights, num_layers=num_layers, seed=seed)
    return DepthAnythingDisparity(model, depth_input_size(height, width, spec.side), (height, width)).eval()


def preprocess_depth(frames: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """uint8 RGB [T, H, W, 3] -> float32 [T, 3, h, w]: bicubic resize (the processor uses PIL bicubic;
    OpenCV's is the same kernel family, not bit-identical), /255, ImageNet normalisation."""
    import cv2

    h, w = input_hw
    out = np.empty((frames.shape[0], 3, h, w), np.float32)
    mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
    for i, frame in enumerate(frames):
        img = frame if frame.shape[:2] == (h, w) else cv2.resize(frame, (w, h), interpolation=cv2.INTER_CUBIC)
        out[i] = (img.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) / std
    return out
