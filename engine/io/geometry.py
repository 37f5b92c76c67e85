"""Frame geometry shared by the readers and the writers: display rotation, the working resolution,
and scaling label maps back to the input's size."""
from __future__ import annotations

import numpy as np


def normalize_rotation(degrees: float) -> int:
    """Counter-clockwise display rotation snapped to 0/90/180/270 (phones write multiples of 90)."""
    return int(round(float(degrees) / 90.0)) % 4 * 90


def rotate_frame(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate an ``[H, W, ...]`` image counter-clockwise by ``degrees`` (a multiple of 90), the way a
    player applies a display matrix. Returns a contiguous array."""
    k = normalize_rotation(degrees) // 90
    if k == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=k, axes=(0, 1)))


def rotated_size(width: int, height: int, degrees: int) -> tuple[int, int]:
    """(width, height) of a ``width x height`` picture after a display rotation."""
    return (height, width) if normalize_rotation(degrees) in (90, 270) else (width, height)


def working_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size the pipeline runs at: the input scaled so that its longest side is at most
    ``max_side``, with even width and height (the overlay is encoded as yuv420p, and flow pyramids
    like even sizes). Never upscales."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad frame size {width}x{height}")
    scale = min(1.0, float(max_side) / max(width, height)) if max_side and max_side > 0 else 1.0
    w = max(2, int(round(width * scale / 2.0)) * 2)
    h = max(2, int(round(height * scale / 2.0)) * 2)
    # rounding up to even must not exceed the input (never upscale)
    w = min(w, width - width % 2) if width >= 2 else w
    h = min(h, height - height % 2) if height >= 2 else h
    return w, h


def resize_labels(labels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize of an ``[H, W]`` label map (ids must never be blended)."""
    if labels.shape[1] == width and labels.shape[0] == height:
        return labels
    import cv2

    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def resize_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-averaged downscale of an RGB frame (no aliasing on large inputs)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    import cv2

    interp = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)
