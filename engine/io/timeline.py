"""Which input frames the stages see: sampling in time, repeated frames, scene cuts.

* **Sampling.** The stages are tuned for about 24 frames per second. A clip at 48 fps or more is
  sampled in time to 24 fps (automatically; ``--fps F`` sets another rate, ``--vid-stride N`` takes
  every Nth frame instead, ``--vid-stride 1`` every frame): the first distinct frame of every 1/F s
  slot is processed. Stages count their gaps and windows in seconds, so what remains of the frame rate
  (12, 24 or 30 fps) changes the frame counts, not the result.
* **Repeated frames.** A frame whose thumbnail differs from the last distinct frame by at most
  ``dup_max_diff`` grey levels anywhere is a repeat (a 24 fps film stored at 60 fps repeats each
  picture 2 or 3 times; an encoder's repeat differs by at most ~4 levels, real motion by 30 and more):
  it is never processed.
* **Cuts** (:mod:`.cuts`), decided on the distinct frames: the first frame after a cut is always
  processed and starts a new scene.

Every input frame still gets a mask: a frame that is not processed gets the mask of the processed
frame before it (the writers fill them in), so the masks keep the input's frame count.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

from ..config import RunConfig
from ..contracts import VideoInfo
from .cuts import LOOKAHEAD, LOOKBACK, CutDetector, cut_features
from ..options import Option, read_options
from .decode import DecodeStatus, FrameReader, thumbnail_of

OPTIONS = (
    Option("dup_max_diff", 8, "a frame that differs from the last distinct one by at most this many grey levels "
                              "(0-255) at every pixel of its 128 px wide thumbnail repeats it and is not "
                              "processed; 0: never", minimum=0),
)
AUTO_FPS = 24.0  # high frame rates are sampled down to this
AUTO_FROM_FPS = 2 * AUTO_FPS  # ... from this input rate on (below it every distinct frame is processed)


@dataclass
class Frame:
    """A processed frame: what the windows hold."""

    image: np.ndarray  # [H, W, 3] uint8 RGB, working resolution, upright
    index: int  # input frame number
    time: float  # seconds from the first input frame
    cut: bool = False  # the first frame after a scene cut


@dataclass
class Sampling:
    """How input frames are chosen: ``all`` (every distinct frame), ``fps`` (one per 1/fps s slot) or
    ``stride`` (one per ``stride`` input frames)."""

    mode: str
    fps: Optional[float] = None
    stride: Optional[int] = None
    auto: bool = False

    def rate(self, input_fps: float) -> float:
        """Nominal frames per second the stages see."""
        if self.mode == "fps":
            return min(float(self.fps), input_fps)
        if self.mode == "stride":
            return input_fps / float(self.stride)
        return input_fps

    def describe(self) -> str:
        if self.mode == "fps":
            what = f"{self.fps:g} fps"
        elif self.mode == "stride":
            what = f"every {self.stride} frames"
        else:
            what = "every frame"
        return what + (" (automatic)" if self.auto else "")


def choose_sampling(input_fps: float, fps: Optional[float] = None, vid_stride: Optional[int] = None) -> Sampling:
    """``--fps`` / ``--vid-stride`` when given, else 24 fps for inputs of 48 fps and more."""
    if fps is not None and vid_stride is not None:
        raise ValueError("give --fps or --vid-stride, not both")
    if vid_stride is not None:
        return Sampling("all") if int(vid_stride) == 1 else Sampling("stride", stride=int(vid_stride))
    if fps is not None:
        return Sampling("fps", fps=float(fps))
    if input_fps >= AUTO_FROM_FPS - 0.1:  # 47.95 (2 x 23.976) counts as 48
        return Sampling("fps", fps=AUTO_FPS, auto=True)
    return Sampling("all", auto=True)


class _Slots:
    """One processed frame per slot of time (or of input frames), slots counted from the scene's start."""

    def __init__(self, sampling: Sampling):
        self.sampling = sampling
        self._origin = (0, 0.0)
        self._last: Optional[int] = None

    def restart(self, index: int, time: float) -> None:
        self._origin, self._last = (index, time), None

    def take(self, index: int, time: float) -> bool:
        s = self.sampling
        if s.mode == "all":
            return True
        if s.mode == "stride":
            slot = (index - self._origin[0]) // int(s.stride)
        else:
            slot = int(math.floor((time - self._origin[1]) * float(s.fps) + 1e-6))
        if slot == self._last:
            return False
        self._last = slot
        return True


@dataclass
class TimelineReport:
    sampling: str = ""
    input_fps: float = 0.0
    processed_fps: float = 0.0  # nominal
    frames_processed: int = 0
    frames_repeated: int = 0  # dropped as repeats of the previous distinct frame
    frames_sampled_out: int = 0  # distinct frames that the sampling in time skipped
    cuts: list = field(default_factory=list)  # input frame numbers that start a new scene

    def to_dict(self) -> dict:
        return dict(vars(self), cuts=list(self.cuts))


class Timeline:
    """Wraps a :class:`FrameReader`: iterating gives the processed :class:`Frame` s, in order."""

    def __init__(self, reader: FrameReader, config: Optional[RunConfig] = None):
        config = config or RunConfig()
        self.reader = reader
        self.sampling = choose_sampling(reader.info.fps, config.fps, config.vid_stride)
        self.dup_max_diff = int(read_options(config, OPTIONS)["dup_max_diff"])
        self.cuts = CutDetector(config)
        self.report = TimelineReport(sampling=self.sampling.describe(), input_fps=round(reader.info.fps, 3),
                                     processed_fps=round(self.processed_fps, 3))

    @property
    def info(self) -> VideoInfo:
        return self.reader.info

    @property
    def status(self) -> DecodeStatus:
        return self.reader.status

    @property
    def processed_fps(self) -> float:
        return self.sampling.rate(self.reader.info.fps)

    def __iter__(self) -> Iterator[Frame]:
        slots = _Slots(self.sampling)
        thumbs = self.dup_max_diff > 0 or self.cuts.enabled
        pending: deque = deque()  # distinct frames waiting for their cut decision: (input frame, features)
        history: deque = deque(maxlen=LOOKBACK)  # features of the distinct frames decided last
        last_grey: Optional[np.ndarray] = None
        first = True
        for raw in self.reader.input_frames():
            feats = image = None
            if thumbs:
                if self.sampling.mode == "all":
                    # every distinct frame is converted anyway: its thumbnail from that is cheaper
                    image = raw.image()
                    thumb = thumbnail_of(image)
                else:
                    thumb = raw.thumbnail()
                grey = thumb.astype(np.int16).sum(-1)  # 3 x grey: no conversion, same test
                if (last_grey is not None and self.dup_max_diff > 0
                        and int(np.abs(grey - last_grey).max()) <= 3 * self.dup_max_diff):
                    self.report.frames_repeated += 1
                    continue
                last_grey = grey
                feats = cut_features(thumb) if self.cuts.enabled else None
            pending.append((raw, feats, image))
            if len(pending) > LOOKAHEAD:
                frame = self._decide(pending, history, slots, first)
                first = False
                if frame is not None:
                    yield frame
        while pending:
            frame = self._decide(pending, history, slots, first)
            first = False
            if frame is not None:
                yield frame

    def _decide(self, pending: deque, history: deque, slots: _Slots, first: bool) -> Optional[Frame]:
        raw, feats, image = pending.popleft()
        window = list(history) + [feats] + [f for _, f, _ in pending]
        cut = (not first) and self.cuts.is_cut(window, len(history))
        history.append(feats)
        if first or cut:
            slots.restart(raw.index, raw.time)
        if cut:
            self.report.cuts.append(raw.index)
        if not (slots.take(raw.index, raw.time) or cut or first):
            self.report.frames_sampled_out += 1
            return None
        self.report.frames_processed += 1
        return Frame(image=raw.image() if image is None else image, index=raw.index, time=raw.time, cut=cut)
