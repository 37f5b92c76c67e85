"""Decoding ahead on a worker thread: FFmpeg decoding and swscale conversion release the GIL, so the
next frames are decoded while the stages work on the current window. At most ``depth`` frames wait
in the queue (bounded memory)."""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

_END = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetcher:
    def __init__(self, iterable: Iterable, depth: int):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(iterable,), name="motionseg-decode",
                                        daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, iterable: Iterable) -> None:
        try:
            for item in iterable:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(_Failed(exc))

    def __iter__(self) -> Iterator:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item

    def close(self) -> None:
        """Stop the worker and wait for it: the reader may only be closed after this returns."""
        self._stop.set()
        self._thread.join()
