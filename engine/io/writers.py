"""Everything a run writes, as frames are emitted: the registered output formats (:mod:`.sinks`:
mask PNGs, the overlay video, objects.json) and, last, ``run.json`` (configuration, versions,
per-stage time, fps, warnings).

Every file appears under its final name only when complete (see :mod:`.atomic`); ``objects.json`` and
``run.json`` are written last, so their presence means the run finished. The sinks are created at the
first write, not before: a run that fails before its first mask has written nothing (and, through
its :class:`~.output_dir.OutputFolder`, cleared nothing).
"""
from __future__ import annotations

import contextlib
import json
import os

import numpy as np

from ..contracts import VideoInfo, WindowMasks
from ..errors import FileSystemError, os_error_message
from ..faults import fault_point
from .atomic import remove_temp_files, write_text
from .output_dir import RUN_JSON
from .sinks import sink_classes
from .sinks.base import OutputMasks


class OutputWriter:
    """Hands each window's :class:`WindowMasks` to every sink the run writes, then writes ``run.json``."""

    def __init__(self, out_dir: str, info: VideoInfo, config, folder=None):
        """``folder``: the run's :class:`~.output_dir.OutputFolder`, begun (marked, previous results
        cleared) just before the first file is written."""
        self.out_dir = out_dir
        self.info = info
        self.config = config
        self.folder = folder
        self._classes = [cls for cls in sink_classes() if cls.wanted(config)]
        self.sinks: list = []
        self._started = False
        self.frames_written = 0
        self._object_ids: set[int] = set()

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.folder is not None:
            self.folder.begin()
        for cls in self._classes:
            self.sinks.append(cls(self.out_dir, self.info, self.config))  # one by one: abort() sees each

    def write(self, frames: np.ndarray, masks: WindowMasks) -> None:
        """``frames``: the working-resolution RGB frames of ``masks`` (same length, same order)."""
        if masks.start != self.frames_written:
            raise RuntimeError(f"frames must be written in order: got {masks.start}, "
                               f"expected {self.frames_written}")
        with self._file_system_errors():
            fault_point("before-write")
            self._start()
            out = OutputMasks(start=masks.start, labels=masks.labels, object_ids=list(masks.object_ids),
                              info=self.info)
            for sink in self.sinks:
                sink.write(frames, out)
        # ids counted at the working resolution: the nearest-neighbour upscale to the input's size
        # keeps every label
        for labels in masks.labels:
            self._object_ids.update((np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1).tolist())
        self.frames_written += len(masks.labels)

    @property
    def num_objects(self) -> int:
        return len(self._object_ids)

    def finish(self, run_info: dict) -> dict:
        """Finish every sink (those whose files mark a finished run last), then write run.json."""
        with self._file_system_errors():
            self._start()
            fault_point("during-finish")
            paths: dict[str, str] = {}
            marking: list[str] = []  # files whose presence says "finished": only with run.json
            try:
                for sink in sorted(self.sinks, key=lambda s: s.marks_complete):
                    done = sink.finish(run_info)
                    paths.update(done)
                    if sink.marks_complete:
                        marking += list(done.values())
                run_path = os.path.join(self.out_dir, RUN_JSON)
                run_info = dict(run_info, outputs={k: os.path.relpath(v, self.out_dir) for k, v in paths.items()})
                write_text(run_path, json.dumps(run_info, indent=2, default=_json_default))
            except BaseException:
                for path in marking:  # e.g. the disk filled up between objects.json and run.json
                    with contextlib.suppress(OSError):
                        os.remove(path)
                raise
        paths["run"] = run_path
        return paths

    @contextlib.contextmanager
    def _file_system_errors(self):
        """An OSError while writing (disk full, read-only, permissions; FFmpeg's and PIL's name no file)
        becomes one line that says which output folder."""
        try:
            yield
        except OSError as exc:
            raise FileSystemError(f"cannot write the results in {self.out_dir}: {os_error_message(exc)}") from None

    def abort(self) -> None:
        """Leave only complete files: each sink drops what it had not finished."""
        for sink in self.sinks:
            try:
                sink.abort()
            except Exception:  # noqa: BLE001 - the others must still clean up
                pass
        if self._started:
            remove_temp_files(self.out_dir)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
