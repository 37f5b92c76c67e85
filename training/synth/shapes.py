"""Object silhouettes (alpha masks): ellipses, rounded boxes, star-shaped blobs, and body parts."""
from __future__ import annotations

import cv2
import numpy as np

SHAPES = ("ellipse", "box", "blob", "blob", "walker", "quadruped")


def _aa(mask_hi: np.ndarray, h: int, w: int) -> np.ndarray:
    """Anti-aliased alpha from a 4x supersampled binary mask."""
    return cv2.resize(mask_hi.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)


def ellipse(h: int, w: int) -> np.ndarray:
    m = np.zeros((4 * h, 4 * w), np.uint8)
    cv2.ellipse(m, (2 * w, 2 * h), (2 * w - 2, 2 * h - 2), 0, 0, 360, 1, -1)
    return _aa(m, h, w)


def rounded_box(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    m = np.zeros((4 * h, 4 * w), np.uint8)
    r = int(min(h, w) * 4 * rng.uniform(0.05, 0.4))
    cv2.rectangle(m, (r, 0), (4 * w - 1 - r, 4 * h - 1), 1, -1)
    cv2.rectangle(m, (0, r), (4 * w - 1, 4 * h - 1 - r), 1, -1)
    for cx, cy in ((r, r), (4 * w - 1 - r, r), (r, 4 * h - 1 - r), (4 * w - 1 - r, 4 * h - 1 - r)):
        cv2.circle(m, (cx, cy), r, 1, -1)
    return _aa(m, h, w)


def blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A star-convex blob: radius is a smooth random function of the angle."""
    n = 64
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = np.ones(n)
    for k in range(1, 6):
        rad += rng.normal(0, 0.25 / k) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    rad = np.clip(rad / rad.max(), 0.35, 1.0)
    pts = np.stack([2 * w + (2 * w - 2) * rad * np.cos(ang), 2 * h + (2 * h - 2) * rad * np.sin(ang)], -1)
    m = np.zeros((4 * h, 4 * w), np.uint8)
    cv2.fillPoly(m, [pts.astype(np.int32)], 1)
    return _aa(m, h, w)


def silhouette(rng: np.random.Generator, shape: str, h: int, w: int) -> np.ndarray:
    if shape == "ellipse":
        return ellipse(h, w)
    if shape == "box":
        return rounded_box(rng, h, w)
    return blob(rng, h, w)


def skyline(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    """Alpha of a background layer whose top edge is hills, tree tops or building roofs."""
    x = np.arange(w)
    if kind == "buildings":
        top = np.zeros(w)
        pos = 0
        while pos < w:
            bw = int(rng.integers(w // 30 + 4, w // 8 + 8))
            top[pos:pos + bw] = rng.uniform(0.05, 0.6) * h
            pos += bw + int(rng.integers(0, w // 20 + 2))
            if pos < w:
                top[pos - int(rng.integers(0, w // 20 + 2)):pos] = h  # gaps between buildings
    else:
        rough = 0.15 if kind == "trees" else 0.03
        top = np.zeros(w)
        for k in range(1, 7):
            freq = 2 ** k
            top += rng.normal(0, 0.2 / k) * np.sin(2 * np.pi * freq * x / w + rng.uniform(0, 6.3))
        top += rough * (np.abs(np.sin(x * rng.uniform(0.05, 0.3))) - 0.5)
        top = (0.3 + 0.5 * (top - top.min()) / max(np.ptp(top), 1e-6)) * h
    yy = np.arange(h)[:, None]
    return np.clip((yy - top[None, :]) + 0.5, 0.0, 1.0).astype(np.float32)
