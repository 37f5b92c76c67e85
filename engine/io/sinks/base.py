"""The interface of an output format (a *sink*): what a run writes into its output folder.

The pipeline hands every sink the emitted frames of each window, in order, on the writer thread::

    sink = SinkClass(out_dir, info, config)    # created once the input is open (nothing written yet)
    sink.write(frames, masks)                  # per window: working-resolution RGB + OutputMasks
    paths = sink.finish(run_info)              # {name: path} of what it wrote, complete on disk
    sink.abort()                               # on an error or Ctrl-C: leave only complete files

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
    """A window's emitted masks as the sinks see them: ``labels`` at the working resolution (as the
    stages made them), :meth:`at_input_size` at the input's size (what mask files hold)."""

    info: VideoInfo = None
    _full: dict = field(default_factory=dict, repr=False)

    def at_input_size(self, i: int) -> np.ndarray:
        """Frame ``i``'s labels at the input's size (nearest neighbour; resized once for all sinks)."""
        if i not in self._full:
            self._full[i] = resize_labels(self.labels[i], self.info.width, self.info.height)
        return self._full[i]


class Sink:
    """Base class of the output formats (see the module docstring)."""

    file_names: ClassVar[tuple[str, ...]] = ()
    # written after every other sink: its file's presence says that the run finished (objects.json)
    marks_complete: ClassVar[bool] = False

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
