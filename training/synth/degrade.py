"""Camera-side nuisances applied to a rendered frame: lighting drift, colour cast, gamma, vignetting,
motion and defocus blur, resolution loss, sensor noise and JPEG compression."""
from __future__ import annotations

import functools

import cv2
import numpy as np


def line_kernel(dx: float, dy: float) -> np.ndarray | None:
    """Normalised box kernel along (dx, dy) pixels (motion blur); None when shorter than a pixel."""
    length = float(np.hypot(dx, dy))
    if not np.isfinite(length) or length < 1.0:
        return None
    if length > 30.0:
        dx, dy, length = dx * 30.0 / length, dy * 30.0 / length, 30.0
        return None
    r = int(np.ceil(length / 2))
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    p0 = (r - dx / 2, r - dy / 2)
    p1 = (r + dx / 2, r + dy / 2)
    for s in np.linspace(0, 1, int(np.ceil(length * 2)) + 1):
        x, y = p0[0] + s * (p1[0] - p0[0]), p0[1] + s * (p1[1] - p0[1])
        k[int(round(y)), int(round(x))] += 1
    return k / k.sum()


@functools.lru_cache(maxsize=8)
def _vignette(H: int, W: int, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
    return 1 - strength * 0.5 * r2


def apply(frame: np.ndarray, t: int, params: dict, cam_flow: tuple, rng: np.random.Generator) -> np.ndarray:
    """``frame`` float32 RGB in [0, 1] -> uint8 RGB. ``cam_flow`` is the image motion (dx, dy) at the
    centre caused by the camera between t and t+1, used for camera motion blur."""
    img = frame
    if not params:
        return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    H, W = img.shape[:2]
    if params["cam_blur"] > 0:
        k = line_kernel(cam_flow[0] * params["cam_blur"], cam_flow[1] * params["cam_blur"])
        if k is not None:
            img = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)
    if params["defocus"] > 0:
        img = cv2.GaussianBlur(img, (0, 0), params["defocus"])
    img = img * params["gain"][t] * params["colour"][None, None, :].astype(np.float32)
    if params["vignette"] > 0:
        img = img * _vignette(H, W, params["vignette"])[..., None]
    img = np.clip(img, 0, 1) ** params["gamma"]
    if params["rescale"] < 1.0:
        small = cv2.resize(img, (max(8, int(W * params["rescale"])), max(8, int(H * params["rescale"]))),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    if params["noise"] > 0:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(params["noise"] / 255.0)
    out = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if params["jpeg"]:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, params["jpeg"]])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)
