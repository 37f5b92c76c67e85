"""The embedded tracker: dense DIS optical flow chained frame to frame into long-range point tracks.

How a track lives (after Sundaram, Brox & Keutzer, ECCV 2010, "Dense point trajectories by
GPU-accelerated large displacement optical flow"):

* it is seeded at the centre of a grid cell (spacing ``track_spacing`` px) that holds no live track:
  on the first frame everywhere, later wherever new content appears or an occluder moved away;
* each frame it moves by the forward flow, looked up bilinearly at its sub-pixel position;
* it ends when the forward-backward check fails (the backward flow at the new position does not
  bring it back: the point was occluded or the flow is wrong there), when it leaves the image, or
  when its grid cell holds too many tracks (tracks pile up where the scene shrinks or converges);
* its confidence per frame decays with the forward-backward error and with the lack of texture
  around it (flow in flat regions is a guess).

The tracker is stateful across windows: it keeps the positions of the live tracks and a per-frame
record of the tracks visible at each frame of the current window, so frames of the overlap between
windows are never processed twice and a track keeps its global id for its whole life.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, Tracks
from ..options import Option, defaults_of, read_options
from ..units import space_unit
from .flow import DIS_PRESETS, DenseFlow, flow_scale, to_flow_gray

OPTIONS = (
    Option("flow_side", 480, "DIS runs on images of the area of a 16:9 frame with this longest side (480x270; "
                           "270x480 portrait)", minimum=32),  # DIS needs >= 12 px
    Option("flow_preset", "ultrafast", "DIS preset", choices=tuple(DIS_PRESETS)),
    Option("flow_finest_scale", -1, "DIS finest pyramid level (0 = flow resolution); -1 = automatic", minimum=-1),
    Option("track_spacing", 0.0, "grid spacing, px of an 854x480 frame (scales with sqrt(area)); "
                                   "0 = sqrt(H*W / track_target)", minimum=0.0),
    Option("track_target", 2000, "about this many live tracks when the spacing is automatic", minimum=1),
    Option("max_per_cell", 2, "tracks beyond this many in one grid cell end (the youngest first)", minimum=1),
    Option("fb_rel", 0.01, "forward-backward test |w + w_b|^2 < fb_rel (|w|^2 + |w_b|^2) + fb_abs (flow px)",
           minimum=0.0),
    Option("fb_abs", 0.5, "absolute term of the forward-backward test (flow px)", minimum=0.0),
    Option("conf_sigma", 1.5, "confidence = exp(-fb_err^2 / (2 sigma^2)), fb_err in flow px", positive=True),
    Option("min_track_frames", 2, "tracks seen in fewer frames of a window (and ended) are left out of it",
           minimum=1),
    Option("texture_floor", 1e-4, "confidence *= lam / (lam + floor), lam = smallest structure-tensor eigenvalue",
           minimum=0.0),
)


def defaults_signature() -> dict:
    """What decides the tracks this tracker makes besides its options: its defaults and the flow's
    finest-level rule. Caches of tracks hash it, so that a changed tracker never reuses old tracks."""
    from .flow import FINEST_SIDE

    return dict(defaults_of(OPTIONS), finest_side=FINEST_SIDE)


class _FrameRecord:
    """The tracks visible at one global frame."""

    __slots__ = ("ids", "xy", "conf")

    def __init__(self, ids: np.ndarray, xy: np.ndarray, conf: np.ndarray):
        self.ids, self.xy, self.conf = ids, xy, conf


class FlowTracker:
    """``track(window) -> Tracks``: long-range tracks of one window, continuing those of the last."""

    OPTIONS = OPTIONS

    def __init__(self, config: Optional[RunConfig] = None):
        config = config or RunConfig()
        opt = read_options(config, OPTIONS)
        self.flow_side = opt["flow_side"]
        self.spacing_option = opt["track_spacing"]
        self.track_target = opt["track_target"]
        self.max_per_cell = opt["max_per_cell"]
        self.fb_rel = opt["fb_rel"]
        self.fb_abs = opt["fb_abs"]
        self.conf_sigma = opt["conf_sigma"]
        self.texture_floor = opt["texture_floor"]
        self.min_track_frames = opt["min_track_frames"]
        # one thread asked for (benchmarks running several processes): no second flow thread either
        self._flow = DenseFlow(opt["flow_preset"], self.flow_side, opt["flow_finest_scale"],
                               parallel=config.threads != 1)
        self._next_id = 0
        self._reset_state()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """A scene cut: no track continues (ids stay unique: they keep counting)."""
        self._reset_state()

    def _reset_state(self) -> None:
        self._t: Optional[int] = None  # global index of the last processed frame
        self._gray: Optional[np.ndarray] = None  # its flow-resolution grey image
        self._ids = np.zeros(0, np.int64)  # live tracks at frame _t
        self._xy = np.zeros((0, 2), np.float32)
        self._conf = np.zeros(0, np.float32)
        self._texture: Optional[np.ndarray] = None  # texture confidence map of frame _t
        self._records: dict[int, _FrameRecord] = {}
        self._birth: dict[int, int] = {}  # track id -> global frame where it was seeded
        self._shape: Optional[tuple[int, int]] = None

    @property
    def spacing(self) -> float:
        assert self._shape is not None
        h, w = self._shape
        if self.spacing_option > 0:
            return float(self.spacing_option) * space_unit(h, w)
        # at least 4 px apart: a floor for tiny frames (neighbouring tracks would share their flow),
        # which frames of 240p and up never reach at the default track_target
        return max(4.0, float(np.sqrt(h * w / float(self.track_target))))

    # ------------------------------------------------------------------ per frame
    def _grid_cells(self, xy: np.ndarray) -> tuple[np.ndarray, int, int]:
        h, w = self._shape
        s = self.spacing
        nx, ny = int(np.ceil(w / s)), int(np.ceil(h / s))
        cx = np.clip((xy[:, 0] / s).astype(np.int64), 0, nx - 1)
        cy = np.clip((xy[:, 1] / s).astype(np.int64), 0, ny - 1)
        return cy * nx + cx, nx, ny

    def _thin_and_seed(self, t: int) -> None:
        """End tracks in over-full cells, then seed one track in every empty cell."""
        cells, nx, ny = self._grid_cells(self._xy)
        if len(cells):
            # Rank tracks inside each cell by age (smaller id = older) and keep the oldest ones.
            order = np.lexsort((self._ids, cells))
            sorted_cells = cells[order]
            first = np.searchsorted(sorted_cells, sorted_cells, side="left")
            rank = np.arange(len(order)) - first
            keep = np.zeros(len(cells), bool)
            keep[order[rank < self.max_per_cell]] = True
            self._ids, self._xy, self._conf = self._ids[keep], self._xy[keep], self._conf[keep]
            cells = cells[keep]
        occupied = np.zeros(nx * ny, bool)
        occupied[cells] = True
        empty = np.flatnonzero(~occupied)
        if len(empty):
            s = self.spacing
            h, w = self._shape
            seeds = np.stack(
                [np.minimum((empty % nx + 0.5) * s, w - 1.0), np.minimum((empty // nx + 0.5) * s, h - 1.0)], 1
            ).astype(np.float32)
            new_ids = np.arange(self._next_id, self._next_id + len(empty), dtype=np.int64)
            self._next_id += len(empty)
            for i in new_ids.tolist():
                self._birth[i] = t
            self._ids = np.concatenate([self._ids, new_ids])
            self._xy = np.concatenate([self._xy, seeds])
            self._conf = np.concatenate([self._conf, self._texture_at(seeds)])
        self._records[t] = _FrameRecord(self._ids.copy(), self._xy.copy(), self._conf.copy())

    def _texture_map(self, gray: np.ndarray) -> np.ndarray:
        """Where flow can be trusted: the smallest eigenvalue of the structure tensor (flat sky, water
        and over-exposed areas score near 0), computed at half the flow resolution (cheap)."""
        small = cv2.resize(gray, (max(8, gray.shape[1] // 2), max(8, gray.shape[0] // 2)), interpolation=cv2.INTER_AREA)
        lam = cv2.cornerMinEigenVal(small, 3, 3)
        return (lam / (lam + self.texture_floor)).astype(np.float32)

    def _texture_at(self, xy: np.ndarray) -> np.ndarray:
        h, w = self._shape
        th, tw = self._texture.shape
        x = np.clip((xy[:, 0] * tw / w).astype(np.int64), 0, tw - 1)
        y = np.clip((xy[:, 1] * th / h).astype(np.int64), 0, th - 1)
        return self._texture[y, x]

    def _advance(self, frame: np.ndarray, t: int) -> None:
        """Move the live tracks from frame t-1 to frame t."""
        h, w = self._shape
        scale = flow_scale(h, w, self.flow_side)
        gray = to_flow_gray(frame, scale)
        if len(self._ids):
            pair = self._flow.pair(self._gray, gray, scale)
            fwd = pair.at(pair.forward, self._xy)
            new_xy = self._xy + fwd
            bwd = pair.at(pair.backward, new_xy)
            # forward-backward consistency, measured in flow pixels where DIS works
            fwd_f, bwd_f = fwd * scale, bwd * scale
            err2 = np.sum((fwd_f + bwd_f) ** 2, 1)
            bound = self.fb_rel * (np.sum(fwd_f**2, 1) + np.sum(bwd_f**2, 1)) + self.fb_abs
            inside = (new_xy[:, 0] >= 0) & (new_xy[:, 0] <= w - 1) & (new_xy[:, 1] >= 0) & (new_xy[:, 1] <= h - 1)
            alive = (err2 < bound) & inside
            self._texture = self._texture_map(gray)
            conf = np.exp(-err2 / (2.0 * self.conf_sigma**2)).astype(np.float32) * self._texture_at(new_xy)
            self._ids, self._xy, self._conf = self._ids[alive], new_xy[alive].astype(np.float32), conf[alive]
        else:
            self._texture = self._texture_map(gray)
        self._gray = gray
        self._t = t
        self._thin_and_seed(t)

    def _start(self, frame: np.ndarray, t: int) -> None:
        self._reset_state()
        self._shape = frame.shape[:2]
        self._gray = to_flow_gray(frame, flow_scale(*self._shape, self.flow_side))
        self._texture = self._texture_map(self._gray)
        self._t = t
        self._thin_and_seed(t)

    # ------------------------------------------------------------------ per window
    def track(self, window: FrameWindow) -> Tracks:
        start, length = window.start, window.length
        if length == 0:
            raise ValueError("empty window")
        same_video = self._t is not None and self._shape == tuple(window.frames.shape[1:3])
        continues = same_video and (start == self._t + 1 or (start <= self._t and start in self._records))
        if not continues:
            self._start(window.frames[0], start)
        for t in range(self._t + 1, start + length):
            self._advance(window.frames[t - start], t)
        # Frames before this window are never asked for again (windows only move forward).
        for t in [t for t in self._records if t < start]:
            del self._records[t]
        return self._assemble(start, length)

    def _assemble(self, start: int, length: int) -> Tracks:
        records = [self._records[t] for t in range(start, start + length)]
        ids = np.unique(np.concatenate([r.ids for r in records]))
        n = len(ids)
        xy = np.zeros((n, length, 2), np.float32)
        visible = np.zeros((n, length), bool)
        conf = np.zeros((n, length), np.float32)
        for i, r in enumerate(records):
            rows = np.searchsorted(ids, r.ids)
            xy[rows, i] = r.xy
            visible[rows, i] = True
            conf[rows, i] = r.conf
        # Before a track is born and after it ends it is not visible; hold its nearest known position
        # so that every track spans the window with finite coordinates.
        # Tracks never come back once ended, so a forward fill of the last visible position covers the
        # frames after the end and the first visible position covers the frames before the birth.
        first = np.argmax(visible, 1)
        frame = np.arange(length)[None, :]
        idx = np.maximum.accumulate(np.where(visible, frame, -1), 1)
        idx = np.where(idx < 0, first[:, None], idx)
        xy = np.take_along_axis(xy, idx[..., None].repeat(2, 2), 1)
        # A track that lived a single frame says nothing about motion (it failed its first step: fast
        # or non-rigid motion, occlusion); leaving it out keeps N bounded. Tracks still alive at the
        # last frame stay: they go on in the next window.
        keep = (visible.sum(1) >= self.min_track_frames) | visible[:, -1]
        if not np.all(keep):
            ids, xy, visible, conf = ids[keep], xy[keep], visible[keep], conf[keep]
        births = np.array([self._birth.get(int(i), start) for i in ids], np.int64)
        query = np.clip(births - start, 0, length - 1)
        # The birth map only needs the tracks still on record (long videos keep it small).
        self._birth = {i: self._birth[i] for i in ids.tolist()}
        return Tracks(xy=xy, visible=visible, confidence=conf, ids=ids, query_frame=query)
