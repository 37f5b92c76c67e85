"""Every input frame gets a mask: the object filter lets out *processed* frames (the stages do not see
frames sampled out in time or repeats of the picture before them); an input frame that was not
processed gets the mask of the processed frame before it.

:class:`EveryFrame` turns the filter's :class:`~motionseg_trt.masks.objects.OutputFrame` s into
:class:`~.sinks.base.OutputMasks` runs that cover consecutive input frames, ``repeats[i]`` saying
which frames repeat the one before. The writers and the Python API both take these, so the files and
``segment()``'s results are the same frames with the same masks and scores.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..contracts import VideoInfo
from .sinks.base import OutputMasks


class EveryFrame:
    """``masks(frames, end=None)``: the masks of the input frames from where the last call stopped up
    to the last of ``frames`` (or up to input frame ``end - 1``, the end of the video)."""

    def __init__(self, info: VideoInfo):
        self.info = info
        self.next_index = 0  # the first input frame not handed out yet
        self._last = None  # the last processed frame handed out (an OutputFrame)

    def masks(self, frames: list, end: Optional[int] = None) -> OutputMasks:
        labels, scores, repeats = [], [], []
        start = self.next_index
        for frame in frames:
            if frame.index < self.next_index:
                raise RuntimeError(f"frames must come in order: got {frame.index}, "
                                   f"expected {self.next_index} or later")
            self._repeat_until(frame.index, labels, scores, repeats)
            labels.append(frame.labels)
            scores.append(dict(frame.scores))
            repeats.append(False)
            self._last = frame
            self.next_index += 1
        if end is not None and self._last is not None:
            self._repeat_until(end, labels, scores, repeats)
        h, w = self.info.work_height, self.info.work_width
        stacked = np.stack(labels) if labels else np.zeros((0, h, w), np.uint8)
        return OutputMasks(start=start, labels=stacked, info=self.info, scores=scores, repeats=repeats)

    def _repeat_until(self, end: int, labels: list, scores: list, repeats: list) -> None:
        if self.next_index < end and self._last is None:
            raise RuntimeError(f"input frame {self.next_index} has no processed frame at or before it")
        while self.next_index < end:
            labels.append(self._last.labels)
            scores.append(dict(self._last.scores))
            repeats.append(True)
            self.next_index += 1
