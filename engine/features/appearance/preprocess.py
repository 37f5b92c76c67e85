"""Input sizes and pre-processing of the appearance networks (NumPy / OpenCV; no torch)."""
from __future__ import annotations

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def input_size(height: int, width: int, short_side: int, multiple: int) -> tuple[int, int]:
    """``(h, w)`` with the frame's aspect ratio, the shorter side ``short_side``, both multiples of
    ``multiple`` (what the networks' strides need)."""
    scale = short_side / float(min(height, width))
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    return h, w


def saliency_input(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """U²-Netp's input ``[B, 3, h, w]``: RGB divided by each image's maximum (as the network was
    trained), then ImageNet-normalised."""
    out = np.empty((len(frames), 3) + tuple(size), np.float32)
    for i, frame in enumerate(frames):
        x = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
        x /= max(float(x.max()), 1e-6)
        out[i] = ((x - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return out


def normalise_saliency(maps: np.ndarray) -> np.ndarray:
    """Min-max scale each ``[h, w]`` map to [0, 1] (the network's fused map is not calibrated)."""
    lo = maps.min(axis=(-2, -1), keepdims=True)
    hi = maps.max(axis=(-2, -1), keepdims=True)
    return ((maps - lo) / np.maximum(hi - lo, 1e-8)).astype(np.float32)


def backbone_input(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """EfficientNet-Lite0's input ``[B, 3, h, w]``: RGB in [0, 1], ImageNet-normalised."""
    out = np.empty((len(frames), 3) + tuple(size), np.float32)
    for i, frame in enumerate(frames):
        x = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        out[i] = ((x - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return out
