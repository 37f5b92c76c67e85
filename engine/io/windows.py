"""Sliding windows over a frame stream with bounded memory.

Window ``k`` covers frames ``[k*stride, k*stride + window)``. The first window emits all its frames;
every later one emits only its newest ``stride`` frames (``emit_from = window - stride``), so each
frame is emitted exactly once and the latency is one stride. The last window keeps the full length
when the video is long enough (more context for the stages) and emits whatever is new in it.

Only the last ``window`` frames are kept (a deque), plus one decoded frame of look-ahead that tells
whether the current window is the last, plus at most ``prefetch`` frames decoded ahead on a worker
thread; a 10-minute clip is never held in memory. Offline mode is a
single window spanning the whole clip (memory grows with the clip, by design).

Scene cuts (frames of a :class:`~.timeline.Timeline` with ``cut`` set): a window never spans one. The
window being filled ends at the cut with what it has (it keeps its older frames of the same scene as
context) and the next window starts at the cut as the first window of a new scene: ``scene`` + 1,
``emit_from`` 0. Offline mode gives one window per scene.
"""
from __future__ import annotations

from collections import deque
from typing import Iterator, Optional

import numpy as np

from ..contracts import FrameWindow, VideoInfo
from ..errors import OptionError
from ..units import REFERENCE_FPS
from .decode import DecodeStatus, FrameReader
from .prefetch import Prefetcher
from .timeline import Frame


class WindowSettingError(OptionError, ValueError):
    """A window/stride that cannot work (exit code 2; still a ValueError for Python callers)."""


def validate_window(window: int, stride: int) -> None:
    for name, value in (("window", window), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise WindowSettingError(f"{name} must be a whole number of frames (got {value!r})")
    if window < 1:
        raise WindowSettingError(f"window must be >= 1 (got {window})")
    if stride < 1 or stride > window:
        raise WindowSettingError(f"stride must be in 1..window (got stride {stride}, window {window})")


class VideoSource:
    """Turns a :class:`FrameReader` into :class:`FrameWindow` s."""

    def __init__(self, reader: FrameReader, window: int = 32, stride: int = 16, offline: bool = False,
                 prefetch: int = 0):
        if not offline:
            validate_window(window, stride)
        self.reader = reader
        self.window = window
        self.stride = stride
        self.offline = offline
        self.prefetch = prefetch
        self._prefetcher: Optional[Prefetcher] = None
        self.frames_read = 0
        self.max_frames_held = 0  # high-water mark of frames kept by the source (tests check it)

    @property
    def info(self) -> VideoInfo:
        return self.reader.info

    @property
    def status(self) -> DecodeStatus:
        return self.reader.status

    def __iter__(self) -> Iterator[FrameWindow]:
        return self.windows()

    def windows(self) -> Iterator[FrameWindow]:
        if self.prefetch > 0:
            self._prefetcher = Prefetcher(self.reader, self.prefetch)
            frames = iter(self._prefetcher)
        else:
            frames = iter(self.reader)
        if self.offline:
            yield from self._offline(frames)
        else:
            yield from self._sliding(frames)

    def close(self) -> None:
        """Stop decoding ahead (call before closing the reader)."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None

    def _next(self, frames) -> Optional[Frame]:
        """The next frame as a :class:`Frame` (a reader's plain arrays are frames at 24 fps)."""
        item = next(frames, None)
        if item is None:
            return None
        if not isinstance(item, Frame):
            item = Frame(image=item, index=self.frames_read, time=self.frames_read / REFERENCE_FPS)
        self.frames_read += 1
        return item

    @staticmethod
    def _window(index: int, start: int, held, emit_from: int, is_last: bool, scene: int) -> FrameWindow:
        return FrameWindow(index=index, start=start, frames=np.stack([f.image for f in held]), emit_from=emit_from,
                           is_last=is_last, times=np.array([f.time for f in held], np.float64),
                           frame_index=np.array([f.index for f in held], np.int64), scene=scene)

    def _offline(self, frames) -> Iterator[FrameWindow]:
        buf: list = []
        index, scene, start = 0, 0, 0
        frame = self._next(frames)
        while frame is not None:
            buf.append(frame)
            frame = self._next(frames)
            if frame is None or frame.cut:
                self.max_frames_held = max(self.max_frames_held, len(buf))
                yield self._window(index, start, buf, 0, frame is None, scene)
                index, scene, start = index + 1, scene + 1, start + len(buf)
                buf = []

    def _sliding(self, frames) -> Iterator[FrameWindow]:
        held: deque = deque(maxlen=self.window)
        pending = self._next(frames)  # look-ahead: the frame after the current window, if any
        index, scene, first_of_scene = 0, 0, True
        while pending is not None:
            if pending.cut and index > 0:  # a new scene: nothing before the cut is context
                held.clear()
                scene += 1
                first_of_scene = True
            # the first window of a scene takes `window` new frames, later ones `stride`; a cut ends
            # the window early
            want = self.window if first_of_scene else self.stride
            new = 0
            while new < want and pending is not None:
                held.append(pending)
                new += 1
                pending = None
                if new < want:
                    pending = self._next(frames)
                    if pending is not None and pending.cut:
                        break
            if new == want:
                pending = self._next(frames)
            self.max_frames_held = max(self.max_frames_held, len(held) + (pending is not None))
            start = self.frames_read - (pending is not None) - len(held)
            yield self._window(index, start, held, len(held) - new, pending is None, scene)
            index += 1
            first_of_scene = False
