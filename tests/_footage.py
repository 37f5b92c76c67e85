"""One scene, stored many ways: a scene defined in continuous time, rendered at any size, frame rate
and orientation, so that tests can check that how a clip is stored does not change what is found.

The scene (at a 640x360 reference, then resized to the size asked for): a textured background panned
by the camera, a textured square with a bright rim that moves on its own, a static look-alike painted
on the background, and optionally a *blip*: a small textured patch that moves on its own for a short
time only (a ghost candidate). Positions are sub-pixel (bilinear), so 24 and 60 fps renderings show
the same motion per second.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import av
import cv2
import numpy as np

REF_W, REF_H = 640, 360


def texture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((1.5, 0.3), (4.0, 0.4), (12.0, 0.3)):
        noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        img += amp * noise / (noise.std() + 1e-6)
    img = (img - img.min()) / (img.max() - img.min() + 1e-6)
    return (img * 255).astype(np.uint8)


def _patch(side: int, seed: int) -> np.ndarray:
    p = texture(side, side, seed)
    p[:3] = p[-3:] = p[:, :3] = p[:, -3:] = 255  # a bright rim: an object, not texture
    return p


@dataclass
class Blip:
    """A patch that moves on its own from ``start`` for ``duration`` seconds, then is gone."""

    start: float
    duration: float
    side: int = 40  # reference px
    xy: tuple = (80.0, 250.0)
    velocity: tuple = (220.0, -90.0)  # reference px per second


@dataclass
class SceneSpec:
    seed: int = 0
    pan: tuple = (36.0, 10.0)  # camera, reference px per second
    start: tuple = (300.0, 60.0)  # the moving square's top-left at t = 0
    velocity: tuple = (-90.0, 60.0)  # its own motion, reference px per second
    side: int = 80
    static_xy: tuple = (470.0, 220.0)  # the look-alike (painted on the background)
    blip: Optional[Blip] = None
    tint: tuple = (1.0, 1.0, 1.0)  # colour cast of the background (scenes of a cut look different)


def _paste(img: np.ndarray, patch: np.ndarray, x: float, y: float) -> np.ndarray:
    """Paste ``patch`` with its top-left at sub-pixel (x, y); returns its mask (coverage > 0.5)."""
    h, w = img.shape[:2]
    m = np.float32([[1, 0, x], [0, 1, y]])
    warped = cv2.warpAffine(patch, m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(np.ones(patch.shape[:2], np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
    img[:] = (img * (1 - alpha[..., None]) + warped * alpha[..., None]).astype(np.uint8)
    return alpha > 0.5


def render(spec: SceneSpec, seconds: float, fps: float, size: tuple = (REF_W, REF_H)):
    """Frames ``[T, H, W, 3]`` at ``size`` (width, height), ``T = round(seconds * fps)``, and the
    masks ``[T, H, W]`` of the square that moves on its own (the blip not included)."""
    n = int(round(seconds * fps))
    margin = int(max(abs(spec.pan[0]), abs(spec.pan[1])) * seconds) + 8
    world = texture(REF_H + 2 * margin, REF_W + 2 * margin, spec.seed)
    world = np.clip(world * np.float32(spec.tint), 0, 255).astype(np.uint8)
    look = _patch(spec.side, spec.seed + 1)
    sx, sy = int(spec.static_xy[0]) + margin, int(spec.static_xy[1]) + margin
    world[sy:sy + spec.side, sx:sx + spec.side] = look
    mover = look.copy()  # the same look: only its motion tells it apart
    blip = _patch(spec.blip.side, spec.seed + 2) if spec.blip else None
    frames = np.zeros((n, size[1], size[0], 3), np.uint8)
    masks = np.zeros((n, size[1], size[0]), bool)
    for i in range(n):
        t = i / fps
        cam = np.float32([[1, 0, -(margin + spec.pan[0] * t)], [0, 1, -(margin + spec.pan[1] * t)]])
        view = cv2.warpAffine(world, cam, (REF_W, REF_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if blip is not None and spec.blip.start <= t < spec.blip.start + spec.blip.duration:
            dt = t - spec.blip.start
            _paste(view, blip, spec.blip.xy[0] + spec.blip.velocity[0] * dt, spec.blip.xy[1] + spec.blip.velocity[1] * dt)
        mask = _paste(view, mover, spec.start[0] + spec.velocity[0] * t, spec.start[1] + spec.velocity[1] * t)
        if size != (REF_W, REF_H):
            up = size[0] > REF_W
            view = cv2.resize(view, size, interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA)
            mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        frames[i], masks[i] = view, mask
    return frames, masks


def encode(path: str, frames: np.ndarray, fps: float, rotation: int = 0, audio: bool = False,
           crf: int = 18, data: bool = False) -> str:
    """H.264 mp4; ``rotation`` (counter-clockwise degrees) goes into the display matrix: landscape
    frames stored with 90 are shown as a portrait picture, ``np.rot90(frame)`` (what a phone held
    upright stores). ``audio`` adds an AAC stereo tone as long as the video, ``data`` a data stream
    (as phones and action cameras add: timecodes, GPS) with a packet per frame."""
    h, w = frames.shape[1:3]
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=48000)
            sound.layout = "stereo"
        meta = container.add_data_stream(codec_name="bin_data") if data else None
        container.start_encoding()
        for i, frame in enumerate(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
            if meta is not None:
                packet = av.Packet(b"frame %d" % i)
                packet.stream, packet.pts, packet.dts = meta, i, i
                packet.time_base = Fraction(1, 1) / Fraction(fps).limit_denominator(1001)
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            n = int(len(frames) / fps * 48000)
            t = np.arange(n) / 48000.0
            wave = (0.1 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 550 * t)])).astype(np.float32)
            for i in range(0, n, 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, i:i + 1024]), format="fltp",
                                                   layout="stereo")
                chunk.sample_rate, chunk.pts = 48000, i
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path
