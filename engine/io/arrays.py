"""Frames from memory as the input video: a NumPy array ``[T, H, W, 3]`` (RGB uint8) or any iterable of
``[H, W, 3]`` frames (a live source: a camera loop, a generator). Frames are scaled to the working
resolution like a frame folder's; a live source is consumed once, as the windows need it.

A frame of another size than the first, or not RGB uint8, ends the input there (recorded in
:class:`~.decode.DecodeStatus`, as a corrupt file would), unless it is the first frame: then nothing
usable was given, an :class:`~motionseg_trt.errors.InputError`.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Optional

import numpy as np

from ..contracts import VideoInfo
from ..errors import InputError
from .decode import DEFAULT_FPS, DecodeStatus, FrameReader, InputFrame, check_frame_size, thumbnail_of
from .geometry import resize_frame, working_size


def describe(source) -> str:
    """How ``run.json`` and messages name an input that is not a path."""
    if isinstance(source, np.ndarray):
        return f"<array {list(source.shape)} {source.dtype}>"
    return f"<frames from {type(source).__name__}>"


def _frame_problem(frame) -> Optional[str]:
    if not isinstance(frame, np.ndarray):
        return f"a frame must be a NumPy array, got {type(frame).__name__}"
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        return f"a frame must be RGB uint8 [H, W, 3], got {frame.dtype} {list(frame.shape)}"
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        return f"a frame must be at least 2x2 pixels, got {frame.shape[1]}x{frame.shape[0]}"
    return None


class IterableReader(FrameReader):
    """Any iterable of RGB uint8 ``[H, W, 3]`` frames; ``num_frames`` is known when it has a length."""

    read_once = True

    def __init__(self, frames: Iterable, max_side: int = 960, fps: Optional[float] = None):
        self.path = describe(frames)
        self.status = DecodeStatus()
        count = len(frames) if hasattr(frames, "__len__") else None
        self._frames = iter(frames)
        self._first = next(self._frames, None)
        if self._first is None:
            raise InputError("the input has zero frames")
        problem = _frame_problem(self._first)
        if problem:
            raise InputError(f"bad input: {problem}")
        height, width = self._first.shape[:2]
        work_w, work_h = working_size(width, height, max_side)
        check_frame_size(self.path, width, height, work_w, work_h, max_side)
        self.info = VideoInfo(path=self.path, width=width, height=height, work_width=work_w, work_height=work_h,
                              fps=float(fps or DEFAULT_FPS), num_frames=count)

    def input_frames(self) -> Iterator[InputFrame]:
        frame, self._first = self._first, None
        info = self.info
        while frame is not None:
            problem = _frame_problem(frame)
            if problem is None and frame.shape[:2] != (info.height, info.width):
                problem = f"frame {self.status.frames_decoded} is {frame.shape[1]}x{frame.shape[0]}, " \
                          f"the first is {info.width}x{info.height}"
            if problem:
                self.status.error = problem
                self.status.stopped_at = self.status.frames_decoded
                return
            index = self.status.frames_decoded
            self.status.frames_decoded += 1
            self._keep(frame.copy)  # for the overlay, when it asked (a copy: the buffer may be reused)
            # converted now, a copy: the caller may reuse its buffer for the next frame
            image = resize_frame(frame, info.work_width, info.work_height).copy()
            yield _MemoryFrame(image, index, index / info.fps)
            frame = next(self._frames, None)

    def close(self) -> None:
        close = getattr(self._frames, "close", None)  # a generator's clean-up runs now, not at GC
        if callable(close):
            close()


class _MemoryFrame(InputFrame):
    __slots__ = ("_image",)

    def __init__(self, image: np.ndarray, index: int, time: float):
        super().__init__(index, time)
        self._image = image

    def image(self) -> np.ndarray:
        return self._image

    def thumbnail(self) -> np.ndarray:
        return thumbnail_of(self._image)


def array_reader(array: np.ndarray, max_side: int = 960, fps: Optional[float] = None) -> IterableReader:
    """A ``[T, H, W, 3]`` RGB uint8 array as the input video."""
    if array.ndim != 4 or array.shape[3] != 3 or array.dtype != np.uint8:
        raise InputError(f"bad input: an array input must be RGB uint8 [T, H, W, 3], "
                         f"got {array.dtype} {list(array.shape)}")
    reader = IterableReader(array, max_side=max_side, fps=fps)
    reader.path = reader.info.path = describe(array)
    return reader
