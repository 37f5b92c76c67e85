"""Everything a run writes, as frames are emitted: the registered output formats (:mod:`.sinks`:
mask PNGs, the overlay video, objects.json) and, last, ``run.json`` (configuration, versions,
per-stage time, fps, warnings).

Every input frame gets a mask: an input frame the stages did not process (sampled out in time, or a
repeat of the picture before it) gets the mask of the processed frame before it. The sinks see every
input frame, in order; ``OutputMasks.repeats`` says which ones repeat the frame before.

Every file appears under its final name only when complete (see :mod:`.atomic`); ``objects.json`` and
``run.json`` are written last, so their presence means the run finished.
"""
from __future__ import annotations

import json
import os
from typing import Optional

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
        self._last = None  # the last processed frame written (an OutputFrame)
        self._last_full: Optional[np.ndarray] = None  # the last frame's labels at the input's size

    def write(self, frames, masks: WindowMasks) -> None:
        """The masks of input frames ``masks.start, masks.start + 1, ...`` (``frames``, their pictures,
        are not needed: sinks that show pictures read the input themselves)."""
        from ..masks.objects import OutputFrame

        if masks.start != self.frames_written:
            raise RuntimeError(f"frames must be written in order: got {masks.start}, "
                               f"expected {self.frames_written}")
        self.write_frames([OutputFrame(index=masks.start + i, time=0.0, labels=labels)
                           for i, labels in enumerate(masks.labels)])

    def write_frames(self, frames: list) -> None:
        """:class:`~motionseg_trt.masks.objects.OutputFrame` s in input order; the input frames between
        two of them get the earlier one's mask."""
        labels, scores, repeats = [], [], []
        start = self.frames_written
        for frame in frames:
            index = start + len(labels)
            if frame.index < index:
                raise RuntimeError(f"frames must be written in order: got {frame.index}, "
                                   f"expected {index} or later")
            self._repeat_until(frame.index, index, labels, scores, repeats)
            labels.append(frame.labels)
            scores.append(dict(frame.scores))
            repeats.append(False)
            self._last = frame
        self._hand(start, labels, scores, repeats)

    def fill_to(self, end: int) -> None:
        """Input frames ``frames_written .. end - 1`` get the last written frame's mask."""
        labels, scores, repeats = [], [], []
        self._repeat_until(end, self.frames_written, labels, scores, repeats)
        self._hand(self.frames_written, labels, scores, repeats)

    def _repeat_until(self, end: int, index: int, labels: list, scores: list, repeats: list) -> None:
        if index < end and self._last is None and not labels:
            raise RuntimeError(f"frames must be written in order: input frame {index} has no processed "
                               f"frame at or before it")
        for _ in range(index, end):
            labels.append(self._last.labels)
            scores.append(dict(self._last.scores))
            repeats.append(True)

    def _hand(self, start: int, labels: list, scores: list, repeats: list) -> None:
        if not labels:
            return
        out = OutputMasks(start=start, labels=np.stack(labels), info=self.info, scores=scores, repeats=repeats,
                          before=self._last_full)
        for label_map in {id(x): x for x in labels}.values():
            self._object_ids.update((np.flatnonzero(np.bincount(label_map.ravel(), minlength=2)[1:]) + 1).tolist())
        out.object_ids = sorted(self._object_ids)
        for sink in self.sinks:
            sink.write(None, out)
        self._last_full = out.at_input_size(len(labels) - 1)
        self.frames_written += len(labels)

    @property
    def num_objects(self) -> int:
        # ids counted at the working resolution: the nearest-neighbour upscale keeps every label
        return len(self._object_ids)

    def finish(self, run_info: dict, total_frames: Optional[int] = None) -> dict:
        """Fill the masks up to ``total_frames`` input frames, finish every sink (those whose files
        mark a finished run last), then write run.json."""
        if total_frames is not None and self._last is not None:
            self.fill_to(total_frames)
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
