"""Writing on a worker thread, one window behind the stages.

PNG compression, RLE and H.264 encoding release the GIL (zlib, NumPy, FFmpeg), so on a multi-core
machine they overlap with the next window's tracking instead of adding to it. At most ``max_pending``
windows wait in the queue (bounded memory); a failure in the worker is raised in the caller at its
next call.

The caller waits for the worker through an event the worker sets when it has stopped, never through
``Thread.join()``: a join interrupted by a signal marks the thread as stopped while it still runs,
and closing the video encoder under a running worker crashes the process (SIGSEGV).
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Optional

import numpy as np

from ..contracts import WindowMasks
from ..interrupts import deferred, wait_for
from .writers import OutputWriter

_STOP = object()


class BackgroundWriter:
    """``max_pending=0`` writes synchronously in the caller (same interface, no thread)."""

    def __init__(self, writer: OutputWriter, max_pending: int = 2):
        self.writer = writer
        self.busy_seconds = 0.0  # time spent writing
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, max_pending))
        self._error: Optional[BaseException] = None
        self._stopped = threading.Event()  # set by the worker as its very last action
        self._synchronous = max_pending <= 0
        self._thread = threading.Thread(target=self._work, name="motionseg-writer", daemon=True)
        if self._synchronous:
            self._stopped.set()
        else:
            self._thread.start()

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                if self._error is not None:
                    continue  # drain without writing after a failure
                t = time.perf_counter()
                try:
                    self.writer.write(*item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    self._error = exc
                self.busy_seconds += time.perf_counter() - t
        finally:
            self._stopped.set()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, frames: np.ndarray, masks: WindowMasks) -> None:
        self._raise_if_failed()
        if self._synchronous:
            t = time.perf_counter()
            try:
                self.writer.write(frames, masks)
            finally:
                self.busy_seconds += time.perf_counter() - t
            return
        self._queue.put((frames, masks))

    def _stop_worker(self) -> None:
        """Ask the worker to stop after what is queued, and wait until it has."""
        if self._stopped.is_set():
            return
        while True:  # a full queue: wait for room (the worker is draining it)
            try:
                self._queue.put(_STOP, timeout=0.05)
                break
            except queue.Full:
                if self._stopped.is_set():
                    return
        wait_for(self._stopped)

    def drain(self) -> None:
        """Wait until everything queued is written; raise the worker's error if it failed."""
        from ..faults import fault_point

        if not self._stopped.is_set():
            fault_point("during-drain")
        self._stop_worker()
        self._raise_if_failed()

    @property
    def frames_written(self) -> int:
        return self.writer.frames_written

    @property
    def num_objects(self) -> int:
        return self.writer.num_objects

    @property
    def shows_pictures(self) -> bool:
        return self.writer.shows_pictures

    def finish(self, run_info: dict) -> dict:
        self.drain()
        return self.writer.finish(run_info)

    def abort(self) -> None:
        """Let the worker finish the (at most ``max_pending``) queued windows, so that every frame
        handed over is either complete on disk or was never started, wait for it to stop, then drop
        the partial overlay. Signals arriving meanwhile are kept for later: this must run to its end."""
        with deferred():
            self._stop_worker()
            self.writer.abort()
