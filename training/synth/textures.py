"""Procedural, natural-image-like textures (fractal noise, stripes, blobs, bricks, colour palettes).

Every texture is drawn from a ``numpy.random.Generator`` so that a scene is reproducible from its seed.
Textures must carry detail at several scales, otherwise the optical-flow tracker has nothing to lock
onto and training would see tracker failure instead of motion.
"""
from __future__ import annotations

import cv2
import numpy as np


def fractal_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 6, persistence: float = 0.6,
                  base: int = 4) -> np.ndarray:
    """Value noise summed over octaves (cv2.resize of random grids), normalised to [0, 1]."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        gh = max(2, int(round(h / max(1, w) * base * 2 ** k)) + 1)
        gw = max(2, base * 2 ** k + 1)
        if gw > w * 2 or gh > h * 2:
            break
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= max(total, 1e-6)
    lo, hi = float(out.min()), float(out.max())
    return np.clip((out - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def _palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` colours around a random hue, with a few outliers, as float RGB in [0, 1]."""
    base_hue = rng.uniform(0, 180)
    hues = (base_hue + rng.normal(0, 25, n)) % 180
    sat = rng.uniform(30, 230, n)
    val = rng.uniform(40, 250, n)
    hsv = np.stack([hues, sat, val], -1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32) / 255.0


def _colourise(rng: np.random.Generator, v: np.ndarray) -> np.ndarray:
    """Map a [0, 1] scalar field through a random piecewise-linear palette."""
    n = int(rng.integers(2, 5))
    pal = _palette(rng, n)
    stops = np.sort(rng.random(n).astype(np.float32))
    stops[0], stops[-1] = 0.0, 1.0
    lut = np.stack([np.interp(np.linspace(0, 1, 256), stops, pal[:, c]) for c in range(3)], -1)
    return lut.astype(np.float32)[(v * 255).astype(np.uint8)]


def _stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    period = rng.uniform(4, 40)
    warp = fractal_noise(rng, h, w, octaves=3) * rng.uniform(0, 3 * period)
    phase = (xx * np.cos(ang) + yy * np.sin(ang) + warp) * (2 * np.pi / period)
    return (0.5 + 0.5 * np.sin(phase)).astype(np.float32)


def _blobs(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(5, 40))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        ax = (int(rng.integers(2, max(3, w // 6))), int(rng.integers(2, max(3, h // 6))))
        cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, float(rng.random()), -1)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))


def _bricks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    bh = int(rng.integers(6, 30))
    bw = int(bh * rng.uniform(1.5, 3.5))
    img = np.zeros((h, w), np.float32)
    for r, y in enumerate(range(0, h, bh)):
        off = (bw // 2) * (r % 2)
        for x in range(-off, w, bw):
            img[y:y + bh - 1, max(0, x):max(0, x + bw - 1)] = rng.uniform(0.4, 1.0)
    return img


def make_texture(rng: np.random.Generator, h: int, w: int, kind: str | None = None) -> np.ndarray:
    """An RGB float32 texture in [0, 1] of size ``h x w``.

    ``kind`` is one of ``noise``, ``stripes``, ``blobs``, ``bricks``, ``mixed`` (random when None).
    """
    kind = kind or str(rng.choice(["noise", "noise", "stripes", "blobs", "bricks", "mixed", "mixed"]))
    detail = fractal_noise(rng, h, w, octaves=8, persistence=rng.uniform(0.65, 0.9))
    if kind == "noise":
        field = detail
    elif kind == "stripes":
        field = 0.65 * _stripes(rng, h, w) + 0.35 * detail
    elif kind == "blobs":
        field = 0.6 * _blobs(rng, h, w) + 0.4 * detail
    elif kind == "bricks":
        field = 0.6 * _bricks(rng, h, w) + 0.4 * detail
    else:
        a, b = _stripes(rng, h, w), _blobs(rng, h, w)
        sel = fractal_noise(rng, h, w, octaves=3) > 0.5
        field = np.where(sel, a, b) * 0.6 + 0.4 * detail
    rgb = _colourise(rng, field)
    # Fine grain so that even flat-coloured regions have trackable texture, as real surfaces do.
    grain = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), rng.uniform(0.6, 1.5)) - 0.5
    grain *= 1.0 / max(float(np.abs(grain).max()), 1e-6)
    rgb = rgb * (1.0 + rng.uniform(0.2, 0.6) * grain[..., None])
    # Large-scale shading (lighting on the surface).
    shade = fractal_noise(rng, h, w, octaves=2, base=2)
    rgb = rgb * (1.0 - rng.uniform(0.0, 0.5) * shade[..., None])
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def jitter_colour(rng: np.random.Generator, tex: np.ndarray, amount: float = 0.15) -> np.ndarray:
    """The same texture with a small per-channel gain and offset (a look-alike, not a copy)."""
    gain = 1.0 + rng.uniform(-amount, amount, 3).astype(np.float32)
    off = rng.uniform(-amount / 3, amount / 3, 3).astype(np.float32)
    return np.clip(tex * gain + off, 0.0, 1.0).astype(np.float32)
