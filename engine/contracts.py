"""The data that flows between stages, and the interface of each stage.

decode -> tracks -> features -> motion labels -> masks -> writers. Every stage is a small stateful
object fed one :class:`FrameWindow` at a time (streaming); state such as live tracks, object ids or a
SAM2 memory bank is carried inside the stage, never reached for across stages. Offline mode is one
window that spans the whole clip.

Conventions (all stages):
* frames are RGB uint8 ``[T, H, W, 3]`` at the *working* resolution; masks are written back at the
  input's size by the writers only;
* the stages see the *processed* frames: every input frame, or fewer when a high frame rate is
  subsampled in time (``--fps`` / ``--vid-stride``) or a frame repeats the previous one; indices
  (``start``, ``emit_range``) count processed frames, ``frame_index`` gives each one's input frame;
* a window never spans a scene cut: the first window of a new scene has a larger ``scene`` and
  ``emit_from == 0``, and the pipeline calls ``reset()`` on every stage that has one before it;
* lengths in pixels are scaled by :func:`motionseg_trt.units.space_unit` (sqrt of the area), durations
  are seconds (``times``);
* pixel coordinates are (x, y) with pixel centres at integer positions (OpenCV convention);
* every array is NumPy; networks take/return NumPy through :mod:`motionseg_trt.runtime`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

import numpy as np


@dataclass
class VideoInfo:
    """What the decoder learnt about the input before the first frame."""

    path: str
    width: int  # the input's size after rotation: masks are written at this size
    height: int
    work_width: int  # the size the pipeline runs at (downscaled when the input is large)
    work_height: int
    fps: float
    num_frames: Optional[int]  # container's estimate; None when unknown (frame folders know it exactly)
    rotation: int = 0  # degrees, from the stream's display matrix, already applied to the frames


@dataclass
class FrameWindow:
    """A slice of the video. Consecutive windows overlap by ``window - stride`` frames.

    ``frames[i]`` is the global frame ``start + i``. ``emit_from`` is the first local index whose
    masks this window is responsible for (frames before it were emitted by the previous window), so a
    stage that produces per-frame output only needs ``frames[emit_from:]``.
    """

    index: int  # 0, 1, 2, ... window number
    start: int  # global index of frames[0] (counts processed frames)
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB, working resolution
    emit_from: int
    is_last: bool  # the last window of the video
    times: Optional[np.ndarray] = None  # [T] float64 seconds of each frame; None: 24 fps from `start`
    frame_index: Optional[np.ndarray] = None  # [T] int64 input frame of each frame; None: `start + i`
    scene: int = 0  # scene number: 0, then +1 at every detected cut

    @property
    def length(self) -> int:
        return int(self.frames.shape[0])

    @property
    def frame_interval(self) -> Optional[float]:
        """Mean seconds between the window's frames (None when it has one frame or no times)."""
        from .units import mean_interval

        return mean_interval(self.times)

    @property
    def emit_range(self) -> range:
        """Global frame indices this window emits."""
        return range(self.start + self.emit_from, self.start + self.length)


@dataclass
class Tracks:
    """Long-range point tracks over one window (every track spans every frame of the window).

    This is the input format of the trajectory classifier (``motion/``).
    """

    xy: np.ndarray  # [N, T, 2] float32 pixels (x, y) at working resolution
    visible: np.ndarray  # [N, T] bool
    confidence: np.ndarray  # [N, T] float32 in [0, 1]
    ids: np.ndarray  # [N] int64, global track id, stable across windows
    query_frame: np.ndarray  # [N] int64, local frame where the track was seeded / queried
    # Optional extras for the official classifier's preprocessing (raw soft values of a neural tracker).
    visib_value: Optional[np.ndarray] = None  # [N, T] float32, 1 - sigmoid(occlusion logit)
    confi_value: Optional[np.ndarray] = None  # [N, T] float32, gated confidence

    @property
    def num_tracks(self) -> int:
        return int(self.xy.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[1])


@dataclass
class WindowFeatures:
    """Per-frame dense features of a window (official model set; the embedded set has none)."""

    depth: Optional[np.ndarray] = None  # [T, H, W] float32 disparity, min-max scaled per frame to [0, 1]
    dino: Optional[np.ndarray] = None  # [Q, h, w, C] float32 feature maps of the query frames
    dino_frames: Optional[np.ndarray] = None  # [Q] local frame indices of the dino maps


@dataclass
class MotionLabels:
    """Per-track motion decision."""

    prob: np.ndarray  # [N] float32, probability that the track moves on its own
    moving: np.ndarray  # [N] bool, the selected moving tracks
    threshold: float = 0.5


@dataclass
class WindowMasks:
    """Object-id masks for the frames a window emits, at working resolution."""

    start: int  # global index of labels[0]
    labels: np.ndarray  # [T_emit, H, W] uint8, 0 background, k = object id k (stable across windows)
    object_ids: list[int] = field(default_factory=list)


class Tracker(Protocol):
    def track(self, window: FrameWindow) -> Tracks: ...


class FeatureExtractor(Protocol):
    def extract(self, window: FrameWindow, tracks: Tracks) -> WindowFeatures: ...


class MotionLabeller(Protocol):
    def label(self, window: FrameWindow, tracks: Tracks, features: WindowFeatures) -> MotionLabels: ...


class Densifier(Protocol):
    def densify(self, window: FrameWindow, tracks: Tracks, labels: MotionLabels) -> WindowMasks: ...
