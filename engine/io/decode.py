"""Reading the input: a video file through PyAV (threaded decoding, any container/codec FFmpeg knows)
or a folder of image frames. A reader yields RGB uint8 frames already rotated upright and scaled to
the working resolution; it never holds more than the frame it is converting.

Bad input is reported as :class:`~motionseg_trt.errors.InputError` when nothing usable can be read
(missing path, not a video, no video stream, zero frames). A stream that breaks part-way is *not* an
exception: the reader stops, keeps what it decoded and records where and why in :class:`DecodeStatus`
so that the pipeline can still write outputs for the decoded frames.
"""
from __future__ import annotations

import errno
import math
import os
import signal
import stat
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

from ..contracts import VideoInfo
from ..errors import InputError
from .geometry import normalize_rotation, rotate_frame, rotated_size, working_size

DEFAULT_FPS = 24.0
# OpenCV's DIS optical flow (the embedded tracker) needs frames of at least 12 x 12
MIN_SIDE = 12
MAX_SIZE_CHANGES = 16


@dataclass
class DecodeStatus:
    """How decoding went; filled while frames are read and final once the reader is exhausted."""

    frames_decoded: int = 0
    error: Optional[str] = None  # set when decoding stopped before the end of the input
    stopped_at: Optional[int] = None  # index of the first frame that could not be decoded
    corrupt_frames: list[int] = field(default_factory=list)  # decoded, but the decoder concealed errors
    # frame sizes that differ from the first frame's, as (frame index, width, height): the first few
    size_changes: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {
            "frames_decoded": self.frames_decoded,
            "complete": self.complete,
            "error": self.error,
            "stopped_at": self.stopped_at,
            "corrupt_frames": list(self.corrupt_frames),
            "size_changes": [list(c) for c in self.size_changes],
        }

    def note_size(self, index: int, width: int, height: int) -> None:
        """A frame of another size than the one before it (kept for the first few: memory stays flat)."""
        if len(self.size_changes) < MAX_SIZE_CHANGES:
            self.size_changes.append((index, width, height))


THUMB_WIDTH = 128  # px: the thumbnails that duplicate frames and scene cuts are told from


class InputFrame:
    """One decoded input frame, converted only on demand: frames that the time sampling skips cost a
    thumbnail, not a working-resolution conversion."""

    __slots__ = ("index", "time")

    def __init__(self, index: int, time: float):
        self.index = index  # input frame number
        self.time = time  # seconds from the first frame

    def image(self) -> np.ndarray:  # pragma: no cover - interface
        """RGB uint8 at the working resolution, upright."""
        raise NotImplementedError

    def thumbnail(self) -> np.ndarray:  # pragma: no cover - interface
        """RGB uint8, :data:`THUMB_WIDTH` px wide (stored orientation: only compared with its
        neighbours)."""
        raise NotImplementedError


def thumb_size(width: int, height: int) -> tuple[int, int]:
    return THUMB_WIDTH, max(2, int(round(THUMB_WIDTH * height / max(width, 1) / 2.0)) * 2)


def thumbnail_of(image: np.ndarray) -> np.ndarray:
    """The thumbnail of an RGB frame that is already converted (area filter)."""
    import cv2

    h, w = image.shape[:2]
    return cv2.resize(image, thumb_size(w, h), interpolation=cv2.INTER_AREA)


class FrameReader:
    """Common shape of the readers: ``info``, ``status``, :meth:`input_frames` (every input frame as an
    :class:`InputFrame`) and iteration over every frame at the working resolution."""

    info: VideoInfo
    status: DecodeStatus

    def input_frames(self) -> Iterator[InputFrame]:  # pragma: no cover - interface
        raise NotImplementedError

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.input_frames():
            yield frame.image()

    read_once = False  # the input cannot be read a second time (a source in memory, a pipe)
    _kept: Optional[deque] = None

    def keep_pictures(self) -> bool:
        """For a sink that shows the pictures (the overlay): when the input cannot be read again, keep
        each input frame (at the input's size, upright) until :meth:`kept_pictures` takes it and say
        True; False: it can be, the sink reads it itself."""
        if self.read_once and self._kept is None:
            self._kept = deque()
        return self.read_once

    def _keep(self, picture) -> None:
        """Called by the readers with each input frame (a callable making it, so that nothing is
        converted when nothing is kept)."""
        if self._kept is not None:
            self._kept.append(picture())

    def kept_pictures(self, count: int) -> list[np.ndarray]:
        """The next ``count`` input frames kept, in order (the reader has read them already)."""
        return [self._kept.popleft() for _ in range(count)]

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def reads_again(source) -> bool:
    """Whether the input can be read a second time (by the overlay): a regular file or a folder; not a
    source in memory (an array, a live iterable) and not a pipe or a device (a second open would block
    or read nothing)."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    try:
        mode = os.stat(source).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def open_frames(path, max_side: int = 960, threads: Optional[int] = None,
                fps: Optional[float] = None) -> FrameReader:
    """Open the input: a video file or a folder of frames (a path), a NumPy array ``[T, H, W, 3]``, or
    an iterable of ``[H, W, 3]`` frames (RGB uint8). ``fps`` is the frame rate of inputs that carry
    none (frame folders, arrays, iterables; default 24). Raises :class:`InputError` for unusable input."""
    if not isinstance(path, (str, os.PathLike)):
        from .arrays import IterableReader, array_reader

        if isinstance(path, np.ndarray):
            return array_reader(path, max_side=max_side, fps=fps)
        if path is not None and hasattr(path, "__iter__"):
            return IterableReader(path, max_side=max_side, fps=fps)
        if path is not None:
            raise InputError(f"the input must be a path, a NumPy array [T, H, W, 3] or an iterable of frames, "
                             f"got {type(path).__name__}")
    if not path:
        raise InputError("no input given")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"input not found: {path}")
    if os.path.isdir(path):
        from .frame_folder import ImageFolderReader

        return ImageFolderReader(path, max_side=max_side, fps=fps or DEFAULT_FPS)
    return VideoFileReader(path, max_side=max_side, threads=threads)


def _truncation_tolerance(announced: int, exact: bool) -> int:
    # Edit lists and duration rounding make a container's count differ from the decoded one by a frame
    # or two on healthy files; only a clear shortfall is called a truncated stream.
    return max(2, math.ceil(announced * (0.02 if exact else 0.05)))


class VideoFileReader(FrameReader):
    """PyAV decoding with FFmpeg's frame/slice threads, display rotation applied, downscaled by swscale
    straight to the working size (one conversion, no full-size RGB copy of a 4K frame)."""

    def __init__(self, path: str, max_side: int = 960, threads: Optional[int] = None):
        import av

        self.path = path
        self.status = DecodeStatus()
        self.read_once = not reads_again(path)  # a pipe: the overlay takes the frames kept here
        try:
            self._container = av.open(path)
        except av.error.InvalidDataError as exc:
            raise InputError(f"not a video (FFmpeg cannot read it): {path} ({_ffmpeg_reason(exc)})") from None
        except (av.error.FFmpegError, OSError) as exc:
            if getattr(exc, "errno", None) == errno.EINTR:  # a signal while opening (a FIFO with no writer)
                from ..interrupts import Interrupted, last_signal

                raise Interrupted(last_signal() or signal.SIGINT) from None
            raise InputError(f"cannot open {path}: {_ffmpeg_reason(exc)}") from None
        try:
            streams = self._container.streams
            if not streams.video:
                kinds = sorted({s.type for s in streams}) or ["none"]
                raise InputError(f"no video stream in {path} (streams: {', '.join(kinds)})")
            stream = streams.video[0]
            stream.thread_type = "AUTO"  # frame + slice threads
            stream.codec_context.thread_count = int(threads or 0)  # 0: FFmpeg picks from the cores
            self._stream = stream

            self._frames = self._decode(stream)
            self._first = next(self._frames, None)
            if self._first is None:
                if self.status.error:
                    raise InputError(f"corrupt video stream in {path}: no frame could be decoded "
                                     f"({self.status.error})")
                raise InputError(f"the video stream of {path} has zero frames")

            self.rotation = normalize_rotation(self._first.rotation)
            coded_w, coded_h = self._first.width, self._first.height
            width, height = rotated_size(coded_w, coded_h, self.rotation)
            work_w, work_h = working_size(width, height, max_side)
            check_frame_size(path, width, height, work_w, work_h, max_side)
            # swscale works in the coded orientation; rotation happens after the resize
            self._coded_work = rotated_size(work_w, work_h, self.rotation)
            self._coded_size = (coded_w, coded_h)
            self._needs_resize = self._coded_work != self._coded_size

            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate and float(rate) > 0 else DEFAULT_FPS
            self._fps = fps
            self._duration = self._announced_seconds(stream)
            self._start_time = float(stream.start_time * stream.time_base) if stream.start_time is not None \
                and stream.time_base else None
            self._last_time: Optional[float] = None
            self._last_size = self._coded_size
            self._announced, self._announced_exact = self._announced_frames(stream, fps)
            self.info = VideoInfo(path=path, width=width, height=height, work_width=work_w,
                                  work_height=work_h, fps=fps, num_frames=self._announced,
                                  rotation=self.rotation)
        except BaseException:
            self._container.close()
            raise

    def _announced_seconds(self, stream) -> Optional[float]:
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if self._container.duration:
            return self._container.duration / 1e6
        return None

    def _announced_frames(self, stream, fps: float) -> tuple[Optional[int], bool]:
        """The container's frame count (exact: from its index) or an estimate (duration x rate, for
        the progress bar only: a variable frame rate makes it wrong by any factor)."""
        if stream.frames and stream.frames > 0:
            return int(stream.frames), True
        if self._duration:
            return int(round(self._duration * fps)), False
        return None, False

    def _decode(self, stream):
        """Yield PyAV frames; a decoding/demuxing error ends the stream and is recorded."""
        import av

        try:
            for frame in self._container.decode(stream):
                yield frame
        except av.error.FFmpegError as exc:
            if getattr(exc, "errno", None) == errno.EINTR:  # a signal, not a corrupt stream
                from ..interrupts import Interrupted, last_signal

                raise Interrupted(last_signal() or signal.SIGINT) from None
            self.status.error = f"decoding failed: {_ffmpeg_reason(exc)}"

    def _convert(self, frame) -> np.ndarray:
        # a stream may change resolution mid-way: every frame is brought to the same working size
        if self._needs_resize or (frame.width, frame.height) != self._coded_size:
            from av.video.reformatter import Interpolation

            w, h = self._coded_work
            rgb = frame.reformat(width=w, height=h, format="rgb24",
                                 interpolation=Interpolation.AREA).to_ndarray()
        else:
            rgb = frame.to_ndarray(format="rgb24")
        return rotate_frame(rgb, self.rotation)

    def _thumbnail(self, frame) -> np.ndarray:
        from av.video.reformatter import Interpolation

        w, h = thumb_size(*self._coded_size)
        return frame.reformat(width=w, height=h, format="rgb24", interpolation=Interpolation.AREA).to_ndarray()

    def input_frames(self) -> Iterator[InputFrame]:
        frame, self._first = self._first, None
        if frame is None:
            return
        t0 = None
        while frame is not None:
            index = self.status.frames_decoded
            if frame.is_corrupt:
                self.status.corrupt_frames.append(index)
            if (frame.width, frame.height) != self._last_size:
                self._last_size = (frame.width, frame.height)
                self.status.note_size(index, *rotated_size(frame.width, frame.height, self.rotation))
            if frame.time is not None:
                self._last_time = float(frame.time)
            seconds = frame.time
            if seconds is None or (t0 is not None and seconds < t0):  # no timestamps: the nominal rate
                seconds = (t0 or 0.0) + index / self.info.fps
            t0 = seconds if t0 is None else t0
            self.status.frames_decoded += 1
            self._keep(lambda: rotate_frame(frame.to_ndarray(format="rgb24"), self.rotation))
            yield _AvInputFrame(self, frame, index, float(seconds - t0))
            frame = next(self._frames, None)
        self._finish()

    def _finish(self) -> None:
        done = self.status.frames_decoded
        if self.status.error is not None:
            self.status.stopped_at = done
            return
        if self._announced is not None and self._announced_exact:
            if done < self._announced - _truncation_tolerance(self._announced, True):
                self.status.error = (f"stream ended after {done} frames but the container announces "
                                     f"{self._announced} (truncated or corrupt file)")
                self.status.stopped_at = done
        elif self._duration and self._last_time is not None:
            # no frame count in the container: compare the time the decoded frames cover with its
            # duration (a clean end that covers it is a complete stream, whatever the frame rate did)
            covered = self._last_time - (self._start_time or 0.0) + 1.0 / self._fps
            if covered < self._duration - max(2.0 / self._fps, 0.05 * self._duration):
                self.status.error = (f"stream ended at {covered:.2f} s ({done} frames) but the container "
                                     f"announces {self._duration:.2f} s (truncated or corrupt file)")
                self.status.stopped_at = done

    def close(self) -> None:
        self._frames.close()
        self._container.close()


def check_frame_size(path: str, width: int, height: int, work_w: int, work_h: int, max_side: int) -> None:
    """Frames the stages cannot work on are refused up front (:class:`InputError`, exit code 3)."""
    if min(work_w, work_h) >= MIN_SIDE:
        return
    if min(width, height) < MIN_SIDE:
        raise InputError(f"the frames of {path} are {width}x{height}: too small, the engine needs at least "
                         f"{MIN_SIDE}x{MIN_SIDE} pixels")
    raise InputError(f"--max-side {max_side} makes the {width}x{height} frames of {path} {work_w}x{work_h}: too "
                     f"small, the engine needs at least {MIN_SIDE} pixels on each side (raise --max-side)")


class _AvInputFrame(InputFrame):
    __slots__ = ("_reader", "_frame")

    def __init__(self, reader: VideoFileReader, frame, index: int, time: float):
        super().__init__(index, time)
        self._reader, self._frame = reader, frame

    def image(self) -> np.ndarray:
        return self._reader._convert(self._frame)

    def thumbnail(self) -> np.ndarray:
        return self._reader._thumbnail(self._frame)


def _ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's message without the errno prefix and the repeated file name."""
    msg = getattr(exc, "strerror", None) or str(exc)
    return str(msg).strip()
