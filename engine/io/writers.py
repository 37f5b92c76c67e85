"""Everything a run writes, as frames are emitted: the registered output formats (:mod:`.sinks`:
mask PNGs, the overlay video, objects.json) and, last, ``run.json`` (configuration, versions,
per-stage time, fps, warnings).

The sinks see every input frame, in order (:class:`~.every_frame.EveryFrame` gives the frames the
stages did not process the mask of the processed frame before them); ``OutputMasks.repeats`` says
which ones repeat the frame before.

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
    """Hands the masks of every input frame to every sink the run writes, then writes ``run.json``."""

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

    def write(self, frames, masks: WindowMasks) -> None:
        """The masks of input frames ``masks.start, masks.start + 1, ...`` (an :class:`OutputMasks`, or
        plain :class:`WindowMasks`); ``frames``: their input pictures when the input cannot be read
        again (a source in memory), else None (sinks that show pictures read the input themselves)."""
        if masks.start != self.frames_written:
            raise RuntimeError(f"frames must be written in order: got {masks.start}, "
                               f"expected {self.frames_written}")
        if not len(masks.labels):
            return
        if not isinstance(masks, OutputMasks):
            masks = OutputMasks(start=masks.start, labels=masks.labels, info=self.info)
        for i, label_map in enumerate(masks.labels):
            if i == 0 or not masks.repeat(i):  # a repeat holds the ids of the frame before
                self._object_ids.update((np.flatnonzero(np.bincount(label_map.ravel(), minlength=2)[1:]) + 1).tolist())
        masks.object_ids = sorted(self._object_ids)
        with self._file_system_errors():
            fault_point("before-write")
            self._start()
            for sink in self.sinks:
                sink.write(frames, masks)
        self.frames_written += len(masks.labels)

    @property
    def shows_pictures(self) -> bool:
        """A sink needs the input's pictures (see :meth:`write`)."""
        return any(cls.shows_pictures for cls in self._classes)

    @property
    def num_objects(self) -> int:
        # ids counted at the working resolution: the nearest-neighbour upscale keeps every label
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
