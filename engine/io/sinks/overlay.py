"""``overlay.mp4``: the input video with each object's mask coloured over it and its id drawn on it, at
the input's resolution (or ``--overlay-size``), with the input's audio.

The overlay reads the input itself (a second decoder, one frame at a time): it shows every input
frame at full quality and keeps the input's timing, which the stages' downscaled, time-sampled frames
could not give. An input that can be read only once (a NumPy array, a live iterable, a pipe) is not
read again: the pipeline hands the overlay its frames, kept by the reader, at the nominal rate (and
without the audio of a pipe). Its audio streams are copied packet
by packet (no re-encoding); an audio codec that MP4 cannot hold is left out with a note in
``run.json``, data streams (a phone's metadata) are left out. Masks come at the working resolution and
are scaled up by nearest neighbour. Written under a temporary name of this process
(``.overlay.mp4.tmp-PID-RANDOM.partial``) and renamed when complete. ``--no-overlay`` skips it.
"""
from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from typing import Iterator, Optional

import numpy as np

from ...contracts import VideoInfo
from ..atomic import temp_path_for
from ..decode import reads_again
from ..geometry import normalize_rotation, rotate_frame, rotated_size
from ..palette import DAVIS_PALETTE
from .base import OutputMasks, Sink

OVERLAY = "overlay.mp4"
OVERLAY_PARTIAL = "overlay.mp4.partial"  # the name earlier versions wrote to: --overwrite removes it
OVERLAY_ALPHA = 0.55
_PALETTE_LUT = DAVIS_PALETTE.reshape(256, 1, 3)  # cv2.LUT table, one colour per label


def parse_overlay_size(text: str) -> tuple[Optional[int], int]:
    """``"WxH"`` -> (W, H); ``"N"`` (the longest side) -> (None, N). Raises ValueError."""
    parts = str(text).lower().strip().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(16 <= v <= 16384 for v in values):
        raise ValueError(f"--overlay-size {text}: expected WIDTHxHEIGHT or the longest side, 16 to 16384 px")
    return (values[0], values[1]) if len(values) == 2 else (None, values[0])


def overlay_size(info: VideoInfo, size: Optional[str] = None) -> tuple[int, int]:
    """(width, height) of the overlay: the input's (upright), or ``size`` given as ``WxH`` or as the
    longest side ``N`` (aspect kept); even numbers (yuv420p)."""
    w, h = info.width, info.height
    if size:
        a, b = parse_overlay_size(size)
        if a is None:
            scale = b / float(max(w, h))
            w, h = int(round(w * scale)), int(round(h * scale))
        else:
            w, h = a, b
    return max(2, w - w % 2), max(2, h - h % 2)


def colour_overlay(frame: np.ndarray, labels: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Objects blended in their palette colour, with a solid outline ``thickness`` px wide."""
    import cv2

    if not labels.any():
        return frame
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    colours = cv2.LUT(cv2.merge([labels, labels, labels]), _PALETTE_LUT)
    blended = cv2.addWeighted(frame, 1.0 - OVERLAY_ALPHA, colours, OVERLAY_ALPHA, 0.0)
    out = frame.copy()
    cv2.copyTo(blended, (labels > 0).view(np.uint8), out)
    kernel = np.ones((2 * thickness + 1, 2 * thickness + 1), np.uint8)
    grown = cv2.dilate(labels, kernel)
    edge = (grown != cv2.erode(labels, kernel)).view(np.uint8)
    cv2.copyTo(cv2.LUT(cv2.merge([grown, grown, grown]), _PALETTE_LUT), edge, out)
    return out


def label_anchor(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) deep inside ``mask``: the pixel farthest from its boundary (of a half-size copy, enough
    to place a label), so that a label sits on the object, not on a stray fragment's corner."""
    import cv2

    half = np.ascontiguousarray(mask[::2, ::2]).view(np.uint8)
    if not half.any():
        ys, xs = np.nonzero(mask)
        return int(xs[0]), int(ys[0])
    dist = cv2.distanceTransform(np.pad(half, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(2 * x), int(2 * y)


def draw_ids(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each object's id in a box of its colour, centred deep inside its mask (``labels`` may be smaller
    than ``image``: positions are scaled)."""
    import cv2

    h, w = image.shape[:2]
    sy, sx = h / labels.shape[0], w / labels.shape[1]
    scale = max(0.4, min(h, w) / 720.0)
    thick = max(1, int(round(2 * scale)))
    for obj in np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1:
        ax, ay = label_anchor(labels == obj)
        text = str(int(obj))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        bw, bh = tw + 2 * thick, th + base + 2 * thick
        x = int(np.clip(ax * sx - bw / 2, 0, max(0, w - bw)))
        y = int(np.clip(ay * sy - bh / 2, 0, max(0, h - bh)))
        colour = tuple(int(c) for c in DAVIS_PALETTE[obj % 256])
        cv2.rectangle(image, (x, y), (x + bw, y + bh), colour, -1)
        ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
        cv2.putText(image, text, (x + thick, y + th + thick), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thick,
                    cv2.LINE_AA)
    return image


class _InputFrames:
    """The input's frames, upright at the overlay size, in order; while it demuxes, it hands the
    packets of the streams it copies (audio) to ``copy``. ``path`` None: a source in memory, read once
    by the pipeline, which hands each picture over (:meth:`given`)."""

    def __init__(self, path: Optional[str], size: tuple[int, int], fps: float, copy):
        self.size, self.fps, self.copy = size, fps, copy
        self.audio: list = []
        self._container = None
        self._folder: Optional[list[str]] = None
        if path is None:
            self._folder = []
        elif os.path.isdir(path):
            from ..frame_folder import list_frames

            self._folder = list_frames(path)
        else:
            import av

            self._container = av.open(path)
            self.video = self._container.streams.video[0]
            self.video.thread_type = "AUTO"
            self.audio = list(self._container.streams.audio)
        self.time_base: Fraction = (self.video.time_base if self._container is not None and self.video.time_base
                                    else Fraction(1, 1000))

    def frames(self) -> Iterator[tuple[np.ndarray, Optional[int]]]:
        """(RGB frame, pts in ``time_base``) per input frame."""
        if self._folder is not None:
            yield from self._folder_frames()
            return
        import av

        try:
            for packet in self._container.demux(self.video, *self.audio):
                if packet.stream.type != "video":
                    if packet.dts is not None:
                        self.copy(packet)
                    continue
                for frame in packet.decode():
                    yield self._convert(frame), frame.pts
        except av.error.FFmpegError:
            return  # the main decoder reports a broken stream; the overlay stops where it stops

    def _convert(self, frame) -> np.ndarray:
        from av.video.reformatter import Interpolation

        rotation = normalize_rotation(frame.rotation)
        w, h = rotated_size(*self.size, rotation)
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation=Interpolation.AREA).to_ndarray()
        return rotate_frame(rgb, rotation)

    def _folder_frames(self):
        from ..frame_folder import _load_rgb

        for i, path in enumerate(self._folder):
            image, _ = _load_rgb(path)
            yield self.given(image, i)

    def given(self, image: np.ndarray, index: int) -> tuple[np.ndarray, int]:
        """Input frame ``index`` (RGB, upright, input size) at the overlay size, with its pts at the
        nominal rate (a frame folder's or a source in memory's)."""
        from ..geometry import resize_frame

        step = 1.0 / (self.fps or 24.0) / float(self.time_base)
        return resize_frame(image, *self.size), int(round(index * step))

    def rest(self) -> None:
        """Copy the packets of the copied streams that come after the last video frame."""
        if self._container is None or not self.audio:
            return
        import av

        with contextlib.suppress(av.error.FFmpegError):
            for packet in self._container.demux(*self.audio):
                if packet.dts is not None:
                    self.copy(packet)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


class OverlayVideo:
    """``write(index, labels)`` once per input frame, in order; the file has a temporary name of this
    process until :meth:`close` renames it to ``overlay.mp4``."""

    def __init__(self, out_dir: str, info: VideoInfo, size: Optional[str] = None, threads: Optional[int] = None,
                 in_memory: bool = False):
        import av

        self.final_path = os.path.join(out_dir, OVERLAY)
        self.partial_path = temp_path_for(self.final_path, ".partial")
        self.notes: list[str] = []
        self.size = overlay_size(info, size)
        self.frames = 0
        self._container = None
        self._input: Optional[_InputFrames] = None
        self._last_pts: Optional[int] = None
        try:
            self._container = av.open(self.partial_path, mode="w", format="mp4")
            self._audio_map: dict = {}
            self._input = _InputFrames(None if in_memory else info.path, self.size, info.fps, self._copy)
            self._source = self._input.frames()
            self._add_video(info, threads)
            self._add_audio()
            self._container.start_encoding()
        except BaseException:
            self.abort()  # the file exists from av.open on: never leave it behind
            raise

    def _add_video(self, info: VideoInfo, threads: Optional[int]) -> None:
        import av

        rate = Fraction(info.fps).limit_denominator(1001) if info.fps and info.fps > 0 else Fraction(24)
        self._stream = None
        for codec in ("libx264", "h264", "mpeg4"):  # libx264 ships in PyAV's wheels; the rest are fallbacks
            try:
                stream = self._container.add_stream(codec, rate=rate)
            except (ValueError, av.error.FFmpegError, av.codec.codec.UnknownCodecError):
                continue
            if codec != "libx264":
                self.notes.append(f"libx264 not available, overlay encoded with {codec}")
            self._stream = stream
            break
        if self._stream is None:  # pragma: no cover - every PyAV build has mpeg4
            raise RuntimeError("no H.264/MPEG-4 encoder available in this PyAV build")
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuv420p"
        if self._stream.codec_context.name == "libx264":
            self._stream.options = {"preset": "superfast", "crf": "23"}
        self._stream.codec_context.thread_count = int(threads or 0)
        self._stream.codec_context.time_base = self._input.time_base  # the input's timestamps, kept

    def _add_audio(self) -> None:
        for stream in self._input.audio:
            try:
                self._audio_map[stream.index] = self._container.add_stream_from_template(stream)
            except Exception as exc:  # noqa: BLE001 - a codec MP4 cannot hold: left out, said
                self.notes.append(f"overlay: audio stream {stream.index} ({stream.codec_context.name}) left out: {exc}")

    def _copy(self, packet) -> None:
        out = self._audio_map.get(packet.stream.index)
        if out is None:
            return
        packet.stream = out
        self._container.mux(packet)

    def write(self, index: int, labels: np.ndarray, picture: Optional[np.ndarray] = None) -> None:
        """Input frame ``index`` (0, 1, 2 ... in order) with ``labels`` (any size) over it; ``picture``:
        the input frame itself, for a source in memory (else the overlay reads it)."""
        import av
        import cv2

        item = self._input.given(picture, index) if picture is not None else next(self._source, None)
        if item is None:  # the overlay's decoder has no frame left (a broken stream): nothing to draw on
            return
        image, pts = item
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            pts = 0 if self._last_pts is None else self._last_pts + 1
        self._last_pts = pts
        big = cv2.resize(labels, self.size, interpolation=cv2.INTER_NEAREST) if labels.shape[::-1] != self.size \
            else labels
        thickness = max(1, int(round(min(self.size) / 480)))
        picture = draw_ids(colour_overlay(image, big, thickness), labels)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
        frame.pts, frame.time_base = pts, self._input.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> str:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._input.rest()
        self._input.close()
        self._container.close()
        os.replace(self.partial_path, self.final_path)
        return self.final_path

    def abort(self) -> None:
        if self._input is not None:
            with contextlib.suppress(Exception):
                self._input.close()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        with contextlib.suppress(OSError):
            os.remove(self.partial_path)


class OverlaySink(Sink):
    file_names = (OVERLAY, OVERLAY_PARTIAL)
    shows_pictures = True

    @classmethod
    def wanted(cls, config) -> bool:
        return bool(config.write_overlay)

    def __init__(self, out_dir, info, config):
        super().__init__(out_dir, info, config)
        in_memory = not reads_again(info.path)  # an array, a live source, a pipe: the pipeline hands the frames
        self.video = OverlayVideo(out_dir, info, getattr(config, "overlay_size", None), config.threads, in_memory)

    def write(self, frames, masks: OutputMasks) -> None:
        for i, labels in enumerate(masks.labels):
            self.video.write(masks.start + i, labels, None if frames is None else frames[i])

    def finish(self, run_info: dict) -> dict[str, str]:
        run_info.setdefault("warnings", []).extend(self.video.notes)
        return {"overlay": self.video.close()}

    def abort(self) -> None:
        self.video.abort()
