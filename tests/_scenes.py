"""Small generated scenes with known motion for the vision-stage tests.

A textured background is panned by the camera (optionally two depth layers, for parallax); textured
squares either move on their own ("moving") or are painted on the background ("static", they move
with the camera only). Everything is exact: the test knows where every pixel went.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from motionseg_trt.contracts import FrameWindow


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Multi-scale smooth noise, RGB uint8: trackable everywhere, no repeating pattern."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((1.0, 0.35), (3.0, 0.35), (8.0, 0.3)):
        noise = rng.standard_normal((h, w, 3)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        img += amp * noise / (noise.std() + 1e-6)
    img = (img - img.min()) / (img.max() - img.min() + 1e-6)
    return (img * 255).astype(np.uint8)


def _shift(img: np.ndarray, dx: float, dy: float, out_hw: tuple[int, int]) -> np.ndarray:
    """out[y, x] = img[y + dy, x + dx] (bilinear): the view of a camera moved by (dx, dy)."""
    m = np.array([[1, 0, -dx], [0, 1, -dy]], np.float32)
    return cv2.warpAffine(img, m, (out_hw[1], out_hw[0]), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)


@dataclass
class Square:
    x: float  # top-left at frame 0, in image coordinates
    y: float
    size: int
    velocity: tuple[float, float] = (0.0, 0.0)  # own motion per frame (image px); 0 = static object
    seed: int = 0


@dataclass
class Scene:
    frames: np.ndarray  # [T, H, W, 3] uint8
    labels: np.ndarray  # [T, H, W] uint8: k = k-th moving square (1-based), 0 otherwise
    static_mask: np.ndarray  # [T, H, W] bool: static squares
    pan: tuple[float, float]
    squares: list[Square] = field(default_factory=list)

    def background_position(self, xy0: np.ndarray, t: int) -> np.ndarray:
        """Where far-layer background points seen at frame 0 are at frame t (camera pans by `pan`)."""
        return xy0 - np.array(self.pan, np.float32) * t


def make_scene(
    num_frames: int = 16,
    height: int = 96,
    width: int = 128,
    pan: tuple[float, float] = (1.5, 0.5),
    squares: tuple[Square, ...] = (Square(40, 30, 28, (1.5, 1.0), seed=5),),
    near_band: tuple[int, int] | None = None,
    near_factor: float = 2.5,
    seed: int = 0,
) -> Scene:
    """Render a scene. The camera pans by ``pan`` px per frame (the image content moves by -pan).

    ``near_band=(y0, y1)``: rows of a nearer background layer that moves ``near_factor`` times as
    fast (parallax: no single homography fits the background, a fundamental matrix does).
    """
    margin = int(np.ceil(max(abs(pan[0]), abs(pan[1])) * num_frames * max(1.0, near_factor))) + 8
    big_h, big_w = height + 2 * margin, width + 2 * margin
    far = texture(big_h, big_w, seed)
    near = texture(big_h, big_w, seed + 100)
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    labels = np.zeros((num_frames, height, width), np.uint8)
    static_mask = np.zeros((num_frames, height, width), bool)
    sq_tex = [texture(s.size, s.size, s.seed + 1000) for s in squares]
    for s, tex in zip(squares, sq_tex):
        if s.velocity == (0.0, 0.0):  # a static object is part of the far layer: exact camera motion
            far[margin + int(s.y):margin + int(s.y) + s.size, margin + int(s.x):margin + int(s.x) + s.size] = tex
    for t in range(num_frames):
        # background: camera at (pan * t); crop of the big texture starting at margin + pan*t
        dx, dy = pan[0] * t, pan[1] * t
        img = _shift(far, margin + dx, margin + dy, (height, width))
        if near_band is not None:
            layer = _shift(near, margin + dx * near_factor, margin + dy * near_factor, (height, width))
            img[near_band[0]:near_band[1]] = layer[near_band[0]:near_band[1]]
        moving_k = 0
        for s, tex in zip(squares, sq_tex):
            moving = s.velocity != (0.0, 0.0)
            # static squares sit on the far layer, so they move with the camera only
            x = s.x + (s.velocity[0] * t if moving else int(s.x) - s.x - dx)
            y = s.y + (s.velocity[1] * t if moving else int(s.y) - s.y - dy)
            xi, yi = int(round(x)), int(round(y))
            x0, y0 = max(0, xi), max(0, yi)
            x1, y1 = min(width, xi + s.size), min(height, yi + s.size)
            if x1 <= x0 or y1 <= y0:
                moving_k += moving
                continue
            if moving:
                moving_k += 1
                img[y0:y1, x0:x1] = tex[y0 - yi:y1 - yi, x0 - xi:x1 - xi]
                labels[t, y0:y1, x0:x1] = moving_k
            else:
                static_mask[t, y0:y1, x0:x1] = True
        frames[t] = img
    return Scene(frames=frames, labels=labels, static_mask=static_mask, pan=pan, squares=list(squares))


def windows(frames: np.ndarray, window: int, stride: int):
    """Sliding :class:`FrameWindow` s as the pipeline makes them (the last one may be shorter)."""
    n = len(frames)
    start, index, emitted = 0, 0, 0
    while True:
        end = min(start + window, n)
        yield FrameWindow(index=index, start=start, frames=frames[start:end], emit_from=emitted - start,
                          is_last=end >= n)
        emitted = end
        if end >= n:
            return
        start += stride
        index += 1


def make_zoom_scene(num_frames: int = 16, height: int = 96, width: int = 128, zoom: float = 0.012,
                    rotate_deg: float = 0.6, moving: Square = Square(20, 50, 24, (1.5, -1.0), seed=7),
                    static: Square = Square(80, 20, 22, seed=9), seed: int = 3) -> Scene:
    """The camera zooms in and rolls about the image centre (a homography per frame, no parallax):
    the static square is painted on the background, the moving square moves on its own on top."""
    big = texture(height, width, seed)
    big[static.y:static.y + static.size, static.x:static.x + static.size] = texture(static.size, static.size,
                                                                                    static.seed + 1000)
    sq = texture(moving.size, moving.size, moving.seed + 1000)
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    labels = np.zeros((num_frames, height, width), np.uint8)
    static_mask = np.zeros((num_frames, height, width), bool)
    centre = (width / 2.0, height / 2.0)
    plate = np.zeros((height, width), np.uint8)
    plate[static.y:static.y + static.size, static.x:static.x + static.size] = 1
    for t in range(num_frames):
        m = cv2.getRotationMatrix2D(centre, rotate_deg * t, 1.0 + zoom * t)
        frames[t] = cv2.warpAffine(big, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        static_mask[t] = cv2.warpAffine(plate, m, (width, height), flags=cv2.INTER_NEAREST) > 0
        x, y = int(round(moving.x + moving.velocity[0] * t)), int(round(moving.y + moving.velocity[1] * t))
        frames[t, y:y + moving.size, x:x + moving.size] = sq
        labels[t, y:y + moving.size, x:x + moving.size] = 1
    return Scene(frames=frames, labels=labels, static_mask=static_mask, pan=(0.0, 0.0), squares=[moving, static])
