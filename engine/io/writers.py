"""Everything a run writes, as frames are emitted: the registered output formats (:mod:`.sinks`:
mask PNGs, the overlay video, objects.json) and, last, ``run.json`` (configuration, versions,
per-stage time, fps, warnings).

The sinks see every input frame, in order (:class:`~.every_frame.EveryFrame` gives the frames the
stages did not process the mask of the processed frame before them); ``OutputMasks.repeats`` says
which ones repeat the frame before.

Every file appears under its final name only when complete (see :mod:`.atomic`); ``objects.json`` and
``run.json`` are written last, so their presence means the run finished.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..contracts import VideoInfo, WindowMasks
from .atomic import remove_temp_files, write_text
from .output_dir import RUN_JSON
from .sinks import sink_classes
from .sinks.base import OutputMasks


class OutputWriter:
    """Hands the masks of every input frame to every sink the run writes, then writes ``run.json``."""

    def __init__(self, out_dir: str, info: VideoInfo, config):
        self.out_dir = out_dir
        self.info = info
        self.sinks = [cls(out_dir, info, config) for cls in sink_classes() if cls.wanted(config)]
        self.frames_written = 0
        self._object_ids: set[int] = set()

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
        for sink in self.sinks:
            sink.write(frames, masks)
        self.frames_written += len(masks.labels)

    @property
    def shows_pictures(self) -> bool:
        """A sink needs the input's pictures (see :meth:`write`)."""
        return any(sink.shows_pictures for sink in self.sinks)

    @property
    def num_objects(self) -> int:
        # ids counted at the working resolution: the nearest-neighbour upscale keeps every label
        return len(self._object_ids)

    def finish(self, run_info: dict) -> dict:
        """Finish every sink (those whose files mark a finished run last), then write run.json."""
        paths = {}
        for sink in sorted(self.sinks, key=lambda s: s.marks_complete):
            paths.update(sink.finish(run_info))
        run_path = os.path.join(self.out_dir, RUN_JSON)
        run_info = dict(run_info, outputs={k: os.path.relpath(v, self.out_dir) for k, v in paths.items()})
        write_text(run_path, json.dumps(run_info, indent=2, default=_json_default))
        paths["run"] = run_path
        return paths

    def abort(self) -> None:
        """Leave only complete files: each sink drops what it had not finished."""
        for sink in self.sinks:
            sink.abort()
        remove_temp_files(self.out_dir)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
