"""Small generated videos for tests (importable by every test module: ``from _video import ...``).

``make_pan_frames`` renders a textured background panned by the camera, a textured square that moves
on its own and, optionally, a static look-alike square painted on the background (it moves with the
camera only). The ground truth is exact. The ``write_*`` / ``make_*`` helpers turn frames into files
of every kind the decoder must handle: H.264 mp4/mkv (with display rotation), frame folders,
audio-only files, zero-frame videos, corrupt and truncated streams.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Multi-scale smooth noise: trackable everywhere, no repeating pattern."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((1.0, 0.3), (3.0, 0.4), (9.0, 0.3)):
        noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        img += amp * noise / (noise.std() + 1e-6)
    img = (img - img.min()) / (img.max() - img.min() + 1e-6)
    return (img * 255).astype(np.uint8)


@dataclass
class PanClip:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    moving: np.ndarray  # [T, H, W] bool: the square that moves on its own
    static: np.ndarray  # [T, H, W] bool: the look-alike square that only moves with the camera


def make_pan_frames(n_frames: int = 24, size: tuple[int, int] = (160, 120), moving: bool = True,
                    static_square: bool = True, seed: int = 0, pan: tuple[float, float] = (2.0, 1.0),
                    velocity: tuple[float, float] = (-3.0, 2.0)) -> PanClip:
    """``size`` is (width, height). The camera pans by ``pan`` px/frame (integer steps keep it exact);
    the moving square has its own ``velocity`` px/frame in the image."""
    w, h = size
    side = max(8, min(w, h) // 4)
    margin_x = int(abs(pan[0]) * n_frames) + 2
    margin_y = int(abs(pan[1]) * n_frames) + 2
    world = texture(h + margin_y, w + margin_x, seed)
    patch = texture(side, side, seed + 1)
    patch[:2] = patch[-2:] = patch[:, :2] = patch[:, -2:] = 255  # a bright rim: an object, not texture
    # the static look-alike is painted into the world: it moves exactly like the background
    sx, sy = int(w * 0.65) + margin_x // 2, int(h * 0.55) + margin_y // 2
    if static_square:
        world[sy:sy + side, sx:sx + side] = patch
    static_world = np.zeros(world.shape[:2], bool)
    if static_square:
        static_world[sy:sy + side, sx:sx + side] = True

    frames = np.zeros((n_frames, h, w, 3), np.uint8)
    moving_gt = np.zeros((n_frames, h, w), bool)
    static_gt = np.zeros((n_frames, h, w), bool)
    ox0 = 0 if pan[0] >= 0 else margin_x - 1
    oy0 = 0 if pan[1] >= 0 else margin_y - 1
    mx0, my0 = w * 0.45, h * 0.15
    for t in range(n_frames):
        ox, oy = int(round(ox0 + pan[0] * t)), int(round(oy0 + pan[1] * t))
        frames[t] = world[oy:oy + h, ox:ox + w]
        static_gt[t] = static_world[oy:oy + h, ox:ox + w]
        if moving:
            x, y = int(round(mx0 + velocity[0] * t)), int(round(my0 + velocity[1] * t))
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
            if x1 > x0 and y1 > y0:
                frames[t, y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
                moving_gt[t, y0:y1, x0:x1] = True
                static_gt[t, y0:y1, x0:x1] = False  # the moving square passes in front
    return PanClip(frames, moving_gt, static_gt)


def write_video(path: str, frames: np.ndarray, fps: float = 24.0, rotation: int = 0,
                codec: str = "libx264", crf: int = 14, container_format: str | None = None) -> str:
    """Encode RGB frames; ``rotation`` (counter-clockwise degrees) goes into the display matrix."""
    h, w = frames.shape[1:3]
    with av.open(path, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", "g": "12"}
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_pan_clip(path: str, n_frames: int = 24, size: tuple[int, int] = (160, 120), moving: bool = True,
                  static_square: bool = True, seed: int = 0, fps: float = 24.0, **kwargs) -> PanClip:
    """Render :func:`make_pan_frames` into a video file (or a frame folder when ``path`` has no
    video suffix and ends with ``/``). Returns the clip with its ground truth."""
    clip = make_pan_frames(n_frames, size, moving=moving, static_square=static_square, seed=seed)
    if path.endswith(os.sep):
        write_frame_folder(path, clip.frames)
    else:
        write_video(path, clip.frames, fps=fps, **kwargs)
    return clip


def write_frame_folder(folder: str, frames: np.ndarray, ext: str = "png", pattern: str = "{:05d}") -> str:
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(os.path.join(folder, pattern.format(i) + "." + ext), quality=95)
    return folder


def make_audio_only(path: str) -> str:
    """An .m4a with one AAC stream and no video."""
    with av.open(path, mode="w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_zero_frame_video(path: str) -> str:
    """A Matroska file with a video stream that has no packets (only audio is muxed)."""
    with av.open(path, mode="w", format="matroska") as container:
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


def make_corrupt_video(path: str, frames: np.ndarray, bad_packet: int, fps: float = 24.0) -> str:
    """H.264 whose packet ``bad_packet`` is replaced by a start code followed by garbage, which makes
    FFmpeg's decoder fail (``avcodec_send_packet``: invalid data) part-way through the stream."""
    h, w = frames.shape[1:3]
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "g": "12"}
        count = 0

        def mux(packets):
            nonlocal count
            for packet in packets:
                if count == bad_packet:
                    bad = av.Packet(b"\x00\x00\x00\x01" + b"\xff" * max(16, packet.size - 4))
                    bad.pts, bad.dts, bad.time_base = packet.pts, packet.dts, packet.time_base
                    bad.stream = packet.stream
                    packet = bad
                container.mux(packet)
                count += 1

        for frame in frames:
            mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        mux(stream.encode())
    return path


def make_truncated_video(path: str, frames: np.ndarray, keep: float = 0.5) -> str:
    """An mp4 with its index at the front (faststart) cut to ``keep`` of its bytes: the container
    announces every frame, the file holds only the first part of them."""
    full = path + ".full.mp4"
    h, w = frames.shape[1:3]
    with av.open(full, mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "g": "12"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = open(full, "rb").read()
    os.remove(full)
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * keep)])
    return path


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def make_vfr_mkv(path: str, frames: np.ndarray, times: np.ndarray, rate=Fraction(1000)) -> str:
    """A variable-frame-rate Matroska file: frame k shown at ``times[k]`` seconds (millisecond time
    base). With ``rate`` 1000 FFmpeg reports an average rate of 1000 fps, so a frame count estimated
    from the duration is hundreds of times the real one."""
    h, w = frames.shape[1:3]
    with av.open(path, mode="w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for frame, t in zip(frames, times):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts, video_frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_size_change_stream(path: str, first: np.ndarray, second: np.ndarray) -> str:
    """A raw H.264 stream whose resolution changes part-way (two encodes one after the other, as a
    broadcast or a screen recording may)."""
    a, b = path + ".a.h264", path + ".b.h264"
    write_video(a, first, container_format="h264")
    write_video(b, second, container_format="h264")
    with open(path, "wb") as out:
        for part in (a, b):
            with open(part, "rb") as f:
                out.write(f.read())
            os.remove(part)
    return path
