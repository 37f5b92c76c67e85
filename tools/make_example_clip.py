#!/usr/bin/env python3
"""Render the example clip that ships in ``examples/`` (no recorded footage, no DAVIS).

A procedural scene: a textured landscape (smooth noise with blocky "buildings") seen by a camera that
pans right and down with a little hand-held wobble; a striped ball that moves on its own along an arc;
an identical ball lying still in the scene (it moves in the image only because the camera does: a
static object of the moving class, the case that fools a naive motion detector).

    python tools/make_example_clip.py                      # writes examples/pan_ball_320x240.mp4
    python tools/make_example_clip.py --masks-dir gt/      # also the ground-truth masks (PNG, 1 = moving ball)

Deterministic: ``render()`` returns the same frames and masks on every machine.
"""
from __future__ import annotations

import argparse
import os
from fractions import Fraction

import cv2
import numpy as np

WIDTH, HEIGHT, FRAMES, FPS = 320, 240, 48, 24
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "pan_ball_320x240.mp4")


def _landscape(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth colour noise plus flat-shaded blocks: corners and edges everywhere for the tracker."""
    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((2.0, 0.25), (6.0, 0.35), (20.0, 0.4)):
        noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        img += amp * noise / (noise.std() + 1e-6)
    img = (img - img.min()) / (img.max() - img.min() + 1e-6) * 0.6 + 0.2
    for _ in range(40):
        x, y = rng.integers(0, w - 20), rng.integers(h // 3, h - 10)
        bw, bh = rng.integers(10, 40), rng.integers(15, 60)
        shade = rng.uniform(0.15, 0.9, 3)
        img[max(0, y - bh):y, x:x + bw] = img[max(0, y - bh):y, x:x + bw] * 0.3 + shade * 0.7
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _ball(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """A shaded, striped ball: RGB patch and its alpha (anti-aliased edge)."""
    size = 2 * radius + 3
    yy, xx = np.mgrid[:size, :size].astype(np.float32) - (size - 1) / 2
    r = np.hypot(xx, yy)
    alpha = np.clip(radius + 0.5 - r, 0, 1)
    stripes = (np.sin((xx + yy) * 0.7) > 0).astype(np.float32)
    shade = np.clip(1.1 - (r / radius) ** 2 * 0.6 - (xx + yy) / (4 * radius), 0.3, 1.2)
    rgb = np.stack([0.95 * stripes + 0.2 * (1 - stripes),
                    0.35 * stripes + 0.25 * (1 - stripes),
                    0.1 + 0.6 * (1 - stripes)], axis=-1) * shade[..., None]
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8), alpha


def _paste(img: np.ndarray, patch: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> np.ndarray:
    """Alpha-blend ``patch`` centred at (cx, cy) (sub-pixel); returns the hard mask (alpha > 0.5)."""
    h, w = img.shape[:2]
    ph, pw = alpha.shape
    m = np.float32([[1, 0, cx - (pw - 1) / 2], [0, 1, cy - (ph - 1) / 2]])
    warped = cv2.warpAffine(patch, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    img[:] = (img * (1 - a) + warped * a).astype(np.uint8)
    return a[..., 0] > 0.5


def render(n_frames: int = FRAMES, width: int = WIDTH, height: int = HEIGHT, seed: int = 7):
    """Returns ``frames [T, H, W, 3]`` uint8 RGB, ``moving [T, H, W]`` bool (the ball that moves on
    its own) and ``static [T, H, W]`` bool (the look-alike that lies still, where it is visible)."""
    rng = np.random.default_rng(seed)
    pan = np.array([2.5, 0.6])  # camera motion, px per frame
    margin = int(np.ceil(np.abs(pan).max() * n_frames)) + 16
    world = _landscape(height + margin, width + margin, rng)
    patch, alpha = _ball(radius=height // 10)
    # the static look-alike lies in the world: it moves exactly with the background
    static_world = _paste(world, patch, alpha, cx=width * 0.78 + margin * 0.5, cy=height * 0.72 + margin * 0.2)

    frames = np.zeros((n_frames, height, width, 3), np.uint8)
    masks = np.zeros((n_frames, height, width), bool)
    static = np.zeros((n_frames, height, width), bool)
    for t in range(n_frames):
        wobble = np.array([np.sin(t * 0.9), np.cos(t * 0.7)]) * 0.8
        ox, oy = 4 + pan * t + wobble
        camera = np.float32([[1, 0, -ox], [0, 1, -oy]])
        view = cv2.warpAffine(world, camera, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        static[t] = cv2.warpAffine(static_world.astype(np.float32), camera, (width, height),
                                   flags=cv2.INTER_LINEAR, borderValue=0) > 0.5
        # the ball's own motion, in image coordinates: an arc from the right towards the upper left
        s = t / max(1, n_frames - 1)
        cx = width * (0.8 - 0.55 * s)
        cy = height * (0.55 - 0.35 * np.sin(np.pi * s))
        masks[t] = _paste(view, patch, alpha, cx, cy)
        static[t] &= ~masks[t]
        frames[t] = view
    return frames, masks, static


def write_h264(path: str, frames: np.ndarray, fps: int = FPS, crf: int = 23) -> None:
    import av

    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--masks-dir", help="also write the ground-truth masks here")
    parser.add_argument("--crf", type=int, default=23)
    args = parser.parse_args()
    frames, masks, _ = render()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_h264(args.out, frames, crf=args.crf)
    if args.masks_dir:
        os.makedirs(args.masks_dir, exist_ok=True)
        for i, m in enumerate(masks):
            cv2.imwrite(os.path.join(args.masks_dir, f"{i:05d}.png"), m.astype(np.uint8) * 255)
    print(f"{args.out}: {len(frames)} frames {frames.shape[2]}x{frames.shape[1]}, "
          f"{os.path.getsize(args.out) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
