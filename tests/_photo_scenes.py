"""Clips made from real photographs (scikit-image's bundled, public-domain ones): a camera panning over a
still photograph, and a cut-out of the background moving across it (camouflaged: saliency has nothing
to see). Ground truth is exact."""
from __future__ import annotations

import cv2
import numpy as np


def _photo(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def still_photograph_pan(n_frames: int = 32, size=(320, 240), step: float = 3.0) -> np.ndarray:
    """A camera panning (and drifting down) over a cat photograph on a page: everything is static."""
    w, h = size
    cat = _photo("chelsea")
    page = np.full((h + 80, w + int(step * n_frames) + 80, 3), (200, 196, 190), np.uint8)
    noise = np.random.default_rng(0).integers(-12, 12, page.shape[:2])[..., None]
    page = np.clip(page.astype(np.int16) + noise, 0, 255).astype(np.uint8)  # paper grain, for the flow
    small = cv2.resize(cat, (int(cat.shape[1] * 0.55), int(cat.shape[0] * 0.55)), interpolation=cv2.INTER_AREA)
    y0, x0 = 40 + (h - small.shape[0]) // 2, 40 + int(step * n_frames / 2) + (w - small.shape[1]) // 2
    page[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    frames = []
    for t in range(n_frames):
        m = np.float32([[1, 0, -(20 + step * t)], [0, 1, -(40 - 0.5 * t)]])
        frames.append(cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


def camouflaged_mover(n_frames: int = 32, size=(320, 240), box: int = 40, speed: float = 4.0):
    """A static camera over a photograph of gravel and a square cut from that same photograph moving across
    it: no edge, colour or shape for saliency, only motion. Returns frames and the mover's ground-truth
    masks."""
    w, h = size
    gravel = _photo("gravel")  # 512x512 grey
    bg = np.repeat(cv2.resize(gravel, (w, h), interpolation=cv2.INTER_AREA)[..., None], 3, 2)
    patch = bg[10:10 + box, 10:10 + box].copy()  # same grey, same grain
    frames, masks = [], []
    for t in range(n_frames):
        f = bg.copy()
        x, y = int(round(60 + speed * t)), 150
        f[y:y + box, x:x + box] = patch
        m = np.zeros((h, w), bool)
        m[y:y + box, x:x + box] = True
        frames.append(f)
        masks.append(m)
    return np.stack(frames), np.stack(masks)
