"""Sliding windows over a frame stream with bounded memory.

Window ``k`` covers frames ``[k*stride, k*stride + window)``. The first window emits all its frames;
every later one emits only its newest ``stride`` frames (``emit_from = window - stride``), so each
frame is emitted exactly once and the latency is one stride. The last window keeps the full length
when the video is long enough (more context for the stages) and emits whatever is new in it.

Only the last ``window`` frames are kept (a deque), plus one decoded frame of look-ahead that tells
whether the current window is the last, plus at most ``prefetch`` frames decoded ahead on a worker
thread; a 10-minute clip is never held in memory. Offline mode is a
single window spanning the whole clip (memory grows with the clip, by design).
"""
from __future__ import annotations

from collections import deque
from typing import Iterator, Optional

import numpy as np

from ..contracts import FrameWindow, VideoInfo
from ..errors import OptionError
from .decode import DecodeStatus, FrameReader
from .prefetch import Prefetcher


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

    def _next(self, frames) -> Optional[np.ndarray]:
        frame = next(frames, None)
        if frame is not None:
            self.frames_read += 1
        return frame

    def _offline(self, frames) -> Iterator[FrameWindow]:
        buf = []
        for frame in frames:
            buf.append(frame)
            self.frames_read += 1
        self.max_frames_held = len(buf)
        if buf:
            yield FrameWindow(index=0, start=0, frames=np.stack(buf), emit_from=0, is_last=True)

    def _sliding(self, frames) -> Iterator[FrameWindow]:
        held: deque = deque(maxlen=self.window)
        pending = self._next(frames)  # look-ahead: the frame after the current window, if any
        index = 0
        while pending is not None:
            # the first window takes `window` new frames, later ones `stride`
            want = self.window if index == 0 else self.stride
            new = 0
            while new < want and pending is not None:
                held.append(pending)
                new += 1
                pending = None
                if new < want:
                    pending = self._next(frames)
            if new == want:
                pending = self._next(frames)
            self.max_frames_held = max(self.max_frames_held, len(held) + (pending is not None))
            start = self.frames_read - (pending is not None) - len(held)
            yield FrameWindow(index=index, start=start, frames=np.stack(held),
                              emit_from=len(held) - new, is_last=pending is None)
            index += 1
