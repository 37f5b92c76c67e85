"""Shadows and reflections that objects cast on the ground: background that moves with an object.

On real video many of a geometric labeller's false positives lie next to the moving object: its
shadow, its reflection in water or a polished floor. Their image moves with the object, yet the GT
marks them background. This draws them in screen space, after the surfaces: the object's visible
silhouette is mirrored about its lowest row (its foot line), squashed and sheared the same way for
every object of the scene (one sun), softened, and then darkens the ground (a shadow) or blends the
object's own colours onto it (a reflection, on water). Masks, depth and tracks are untouched: what
changes is only what the ground looks like.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Cast:
    """How the objects of a scene cast onto the ground."""

    reflection: bool  # False: darken (a shadow); True: blend the mirrored object (a reflection)
    squash: float  # vertical scale of the mirrored silhouette (1 = a mirror image)
    shear: float  # horizontal offset per row below the foot line (the sun's azimuth)
    strength: float  # darkening, or the reflection's opacity, at full coverage
    blur_px: float  # softness of the edge (pixels at 320 px width)


def sample_cast(rng: np.random.Generator, water: bool) -> Cast:
    if water:
        return Cast(True, float(rng.uniform(0.7, 1.0)), float(rng.normal(0.0, 0.08)),
                    float(rng.uniform(0.2, 0.45)), float(rng.uniform(0.5, 2.0)))
    return Cast(False, float(rng.uniform(0.15, 0.6)), float(rng.uniform(-1.2, 1.2)),
                float(rng.uniform(0.3, 0.65)), float(rng.uniform(0.5, 3.0)))


def cast_onto(img: np.ndarray, cover: np.ndarray, receiver: np.ndarray, cast: Cast) -> None:
    """Draw one object's shadow or reflection into ``img`` ``[H, W, 3]`` float32 (in place).

    ``cover`` ``[H, W]``: the object's visible coverage (alpha) in this frame; ``receiver`` ``[H, W]``
    bool: the pixels that can receive it (the ground, not hidden by anything else)."""
    rows = np.flatnonzero(cover.max(1) > 0.5)
    if len(rows) == 0:
        return
    h, w = cover.shape
    foot = float(rows.max())
    # (x, y) -> (x + shear (foot - y), foot + squash (foot - y)): below the foot line, mirrored
    warp = np.array([[1.0, -cast.shear, cast.shear * foot],
                     [0.0, -cast.squash, (1.0 + cast.squash) * foot]], np.float64)
    footprint = cv2.warpAffine(cover.astype(np.float32), warp, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    sigma = cast.blur_px * w / 320.0
    mask = cv2.GaussianBlur(footprint, (0, 0), sigma) if sigma > 0.3 else footprint
    mask = np.clip(mask, 0.0, 1.0) * receiver * cast.strength
    if cast.reflection:
        colours = cv2.warpAffine(img * cover[..., None], warp, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        colours = colours / np.maximum(footprint, 1e-3)[..., None]  # un-premultiply
        img *= 1.0 - mask[..., None]
        img += colours * mask[..., None]
    else:
        img *= 1.0 - mask[..., None]
