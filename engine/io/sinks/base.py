"""The interface of an output format (a *sink*): what a run writes into its output folder.

The pipeline hands every sink the masks of every input frame, in order, on the writer thread::

    sink = SinkClass(out_dir, info, config)    # created once the input is open (nothing written yet)
    sink.write(frames, masks)                  # a run of input frames: OutputMasks (frames: see below)
    paths = sink.finish(run_info)              # {name: path} of what it wrote, complete on disk
    sink.abort()                               # on an error or Ctrl-C: leave only complete files

``frames`` is None: the stages see downscaled frames, and not every input frame (a high frame rate is
sampled in time, repeated pictures are skipped); a sink that shows pictures (``shows_pictures``) reads
the input itself, at full size (the overlay does), except a source in memory (a NumPy array, a live
iterable: read once), whose input frames ``frames`` then holds, one per mask. ``masks.repeats[i]`` says that frame ``i`` repeats the mask of the frame
before it (a frame the stages did not process): a sink may copy what it wrote for that frame.

``file_names`` (glob patterns relative to the output folder) say what the sink owns: ``--overwrite``
removes exactly those, and nothing else of the user's. Every file must appear under its final name
only when complete (write to a temporary name and rename: :mod:`motionseg_trt.io.atomic`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ...contracts import VideoInfo, WindowMasks
from ..geometry import resize_labels


@dataclass
class OutputMasks(WindowMasks):
    """The masks of consecutive input frames as the sinks see them: ``labels`` at the working
    resolution (as the stages made them), :meth:`at_input_size` at the input's size (what mask files
    hold), ``scores[i]`` (object id -> the frame's motion score, where tracks fall inside the object)
    and ``repeats[i]`` (frame ``i`` repeats the frame before it)."""

    info: VideoInfo = None
    scores: list = field(default_factory=list)
    repeats: list = field(default_factory=list)
    _full: dict = field(default_factory=dict, repr=False)

    def repeat(self, i: int) -> bool:
        return bool(self.repeats[i]) if i < len(self.repeats) else False

    def score(self, i: int) -> dict:
        """Frame ``i``'s object id -> score (empty when no stage gave scores)."""
        return self.scores[i] if i < len(self.scores) else {}

    def at_input_size(self, i: int) -> np.ndarray:
        """Frame ``i``'s labels at the input's size (nearest neighbour; resized once for all sinks, and
        once for a run of repeated frames)."""
        if i not in self._full:
            if self.repeat(i) and i > 0:
                self._full[i] = self.at_input_size(i - 1)
            else:
                self._full[i] = resize_labels(self.labels[i], self.info.width, self.info.height)
        return self._full[i]


class Sink:
    """Base class of the output formats (see the module docstring)."""

    file_names: ClassVar[tuple[str, ...]] = ()
    # written after every other sink: its file's presence says that the run finished (objects.json)
    marks_complete: ClassVar[bool] = False
    # shows the input's pictures (the overlay): reads the input itself, or is handed the frames of a
    # source in memory, which can be read only once
    shows_pictures: ClassVar[bool] = False

    @classmethod
    def wanted(cls, config) -> bool:
        """Whether a run with ``config`` writes this format (e.g. ``--no-overlay``)."""
        return True

    def __init__(self, out_dir: str, info: VideoInfo, config):
        self.out_dir = out_dir
        self.info = info

    def write(self, frames: np.ndarray, masks: OutputMasks) -> None:
        raise NotImplementedError

    def finish(self, run_info: dict) -> dict[str, str]:
        return {}

    def abort(self) -> None:
        pass
