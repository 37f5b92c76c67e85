"""The embedded densifier: labelled tracks -> per-object masks, with an edge-aware fill.

Per window, the moving tracks are grouped into objects (:mod:`.grouping`) whose ids persist across
windows. Per emitted frame, the visible tracks vote: each object's tracks and the static tracks
(background evidence) are splatted into Gaussian density maps at a quarter of the resolution; the
normalised maps are then upsampled with a guided filter whose guide is the frame, so that mask edges
snap to image edges instead of following the blurry splats; each pixel takes the arg-max.

Version ``v2`` adds two cues where the track votes are weak (far from any track, or between tracks
of different labels): a colour model per object (colour histograms of the pixels under its tracks
against those under nearby static tracks) and the previous frame's mask, carried forward by the
tracks' motion. ``v1`` is the plain vote.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, MotionLabels, Tracks, WindowMasks
from ..options import Option, read_options
from ..units import frames_for, space_unit
from .grouping import ObjectIds, group_tracks

# The votes are splatted on a grid this many px of an 854x480 frame apart (scales with sqrt(area)).
GRID_PX = 4.0
# Grouping compares tracks at frames this many seconds apart (4 frames at 24 fps).
GROUP_STEP_S = 1.0 / 6.0

OPTIONS = (
    Option("densifier_version", "v2", "v2: colour model and carried masks; v1: the plain vote",
           choices=("v1", "v2")),
    Option("fill_sigma", 1.0, "splat Gaussian sigma, in track spacings", positive=True),
    Option("fill_link", 2.5, "grouping link distance, in track spacings", positive=True),
    Option("fill_min_tracks", 4, "smallest object, in tracks", minimum=1),
    Option("fill_max_objects", 8, "at most this many objects per window (the largest)", minimum=1),
    Option("fill_bg_prior", 0.05, "background vote where no track is near (fraction of one track's peak)",
           minimum=0.0),
    Option("fill_guided_radius", 8, "guided filter radius, px of an 854x480 frame (scales with sqrt(area))", minimum=1),
    Option("fill_guided_eps", 1e-3, "guided filter regularisation", positive=True),
    Option("fill_colour_weight", 2.0, "v2: exponent of the colour likelihood", minimum=0.0),
    Option("fill_temporal_weight", 0.5, "v2: weight of the previous frame's carried mask against the votes",
           minimum=0.0),
)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide in [0, 1]; ``src`` [H, W, C] float32."""
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x):
        return cv2.boxFilter(x, -1, ksize, borderType=cv2.BORDER_REFLECT)

    g = guide[..., None]
    mean_g = box(guide)[..., None]
    var_g = box(guide * guide)[..., None] - mean_g**2
    mean_s = box(src)
    if mean_s.ndim == 2:
        mean_s = mean_s[..., None]
    cov = box(src * g).reshape(mean_s.shape) - mean_g * mean_s
    a = cov / (var_g + eps)
    b = mean_s - a * mean_g
    mean_a = box(a).reshape(a.shape)
    mean_b = box(b).reshape(b.shape)
    return mean_a * g + mean_b


def splat(points: np.ndarray, weights: np.ndarray, shape: tuple[int, int], scale: float, sigma: float) -> np.ndarray:
    """Gaussian density of weighted points (working px) on a grid ``scale`` times smaller."""
    h, w = shape
    grid = np.zeros((h, w), np.float32)
    if len(points):
        x = np.clip(np.round(points[:, 0] / scale).astype(np.int64), 0, w - 1)
        y = np.clip(np.round(points[:, 1] / scale).astype(np.int64), 0, h - 1)
        np.add.at(grid, (y, x), weights.astype(np.float32))
    # scaled so that an isolated point with weight 1 peaks at 1
    return cv2.GaussianBlur(grid, (0, 0), sigma) * np.float32(2 * np.pi * sigma * sigma)


class EdgeFillDensifier:
    """``densify(window, tracks, labels) -> WindowMasks`` for ``window.emit_range``."""

    OPTIONS = OPTIONS

    def __init__(self, config: Optional[RunConfig] = None):
        config = config or RunConfig()
        opt = read_options(config, OPTIONS)
        self.version = opt["densifier_version"]
        self.sigma = opt["fill_sigma"]
        self.link = opt["fill_link"]
        self.min_tracks = opt["fill_min_tracks"]
        self.max_objects = opt["fill_max_objects"]
        self.bg_prior = opt["fill_bg_prior"]
        self.radius = opt["fill_guided_radius"]
        self.eps = opt["fill_guided_eps"]
        self.colour_weight = opt["fill_colour_weight"]
        self.temporal_weight = opt["fill_temporal_weight"]
        self.ids = ObjectIds()
        self._previous: Optional[tuple[int, np.ndarray]] = None  # (global frame, low-res labels)

    def reset(self) -> None:
        """A scene cut: no object continues into the new scene (ids keep counting)."""
        self.ids.reset()
        self._previous = None

    def _spacing(self, tracks: Tracks, shape: tuple[int, int]) -> float:
        """Typical distance between neighbouring tracks (the tracker's grid spacing)."""
        counts = tracks.visible.sum(0)
        per_frame = float(np.median(counts)) if len(counts) else 0.0
        return float(np.sqrt(shape[0] * shape[1] / max(per_frame, 1.0)))

    def densify(self, window: FrameWindow, tracks: Tracks, labels: MotionLabels) -> WindowMasks:
        t_len, h, w = window.frames.shape[:3]
        spacing = self._spacing(tracks, (h, w))
        moving = np.flatnonzero(labels.moving)
        comp = group_tracks(tracks.xy[moving], tracks.visible[moving], self.link * spacing, self.min_tracks,
                            frame_step=frames_for(GROUP_STEP_S, window.frame_interval))
        # components come largest first; a scene that falls apart into many small groups (water,
        # foliage) is noise beyond the largest few, and each object costs a fill per frame
        comp[comp >= self.max_objects] = -1
        obj_of_moving = self.ids.assign(tracks.ids[moving], comp)
        obj = np.zeros(tracks.num_tracks, np.int64)
        obj[moving] = obj_of_moving
        static = ~labels.moving
        object_ids = sorted(int(o) for o in np.unique(obj_of_moving) if o > 0)

        unit = space_unit(h, w)
        scale = max(1.0, GRID_PX * unit)
        low = (max(1, int(np.ceil(h / scale))), max(1, int(np.ceil(w / scale))))
        sigma_low = max(0.8, self.sigma * spacing / scale)
        radius = max(1, int(round(self.radius * unit / 2)))  # the filter runs at half resolution
        half = (max(1, w // 2), max(1, h // 2))
        ids_lut = np.array([0] + object_ids, np.uint8)
        out = np.zeros((len(window.emit_range), h, w), np.uint8)
        for k, local in enumerate(range(window.emit_from, t_len)):
            if not object_ids:
                self._previous = None
                continue
            vis = tracks.visible[:, local]
            conf = np.maximum(tracks.confidence[:, local], 0.05)
            classes = [vis & static] + [vis & (obj == o) for o in object_ids]
            maps = [splat(tracks.xy[c, local], conf[c], low, scale, sigma_low) for c in classes]
            maps[0] += self.bg_prior
            votes = np.stack(maps, -1)
            votes /= votes.sum(-1, keepdims=True)
            if self.version == "v2":
                votes = self._temporal_prior(votes, tracks, obj, object_ids, local, window.start, scale)
                votes = self._colour_posterior(votes, window.frames[local], tracks.xy[:, local], classes, low, scale)
            guide = cv2.resize(cv2.cvtColor(window.frames[local], cv2.COLOR_RGB2GRAY), half,
                               interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
            # The filter is linear and the votes sum to 1: filtering the object channels is enough,
            # the background is what they leave.
            up = cv2.resize(np.ascontiguousarray(votes[..., 1:]), half, interpolation=cv2.INTER_LINEAR)
            if up.ndim == 2:
                up = up[..., None]
            smooth = guided_filter(guide, up, radius, self.eps)
            smooth = np.concatenate([1.0 - smooth.sum(-1, keepdims=True), smooth], -1)
            best = np.argmax(smooth, -1).astype(np.uint8)
            out[k] = cv2.resize(ids_lut[best], (w, h), interpolation=cv2.INTER_NEAREST)
            self._previous = (window.start + local, cv2.resize(out[k], (low[1], low[0]), interpolation=cv2.INTER_NEAREST))
        return WindowMasks(start=window.start + window.emit_from, labels=out, object_ids=object_ids)

    # ------------------------------------------------------------------ v2 cues
    def _colour_posterior(self, votes, frame, xy, classes, low, scale):
        """Votes (the prior by position) times each class's colour likelihood, tempered: colour
        decides where the votes are ambiguous, the votes where colours are shared."""
        small = cv2.resize(frame, (low[1], low[0]), interpolation=cv2.INTER_AREA)
        q = (small >> 5).astype(np.int64)  # 8 levels per channel: 512 colour bins
        bins = (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]
        hists = np.ones((len(classes), 512), np.float64)  # Laplace smoothing
        offsets = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        for c, sel in enumerate(classes):
            if not np.any(sel):
                continue
            p = np.round(xy[sel] / scale).astype(np.int64)
            px = np.clip(p[:, None, 0] + offsets[None, :, 0], 0, low[1] - 1).ravel()
            py = np.clip(p[:, None, 1] + offsets[None, :, 1], 0, low[0] - 1).ravel()
            hists[c] += np.bincount(bins[py, px], minlength=512)
        likelihood = (hists / hists.sum(1, keepdims=True)).T[bins]  # [h, w, classes]
        likelihood = likelihood.astype(np.float32) ** self.colour_weight
        post = votes * likelihood
        return post / np.maximum(post.sum(-1, keepdims=True), 1e-12)

    def _temporal_prior(self, votes, tracks, obj, object_ids, local, window_start, scale):
        """Mix in the previous frame's mask, each object moved by its tracks' median displacement."""
        if self._previous is None or self._previous[0] != window_start + local - 1 or local == 0:
            return votes
        prev = self._previous[1]
        carried = np.zeros_like(votes)
        carried[..., 0] = 1.0
        both = tracks.visible[:, local] & tracks.visible[:, local - 1]
        for c, o in enumerate(object_ids, start=1):
            region = prev == o
            if not region.any():
                continue
            sel = both & (obj == o)
            shift = np.median(tracks.xy[sel, local] - tracks.xy[sel, local - 1], 0) / scale if sel.any() else np.zeros(2)
            m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
            moved = cv2.warpAffine(region.astype(np.float32), m, (prev.shape[1], prev.shape[0]))
            carried[..., c] = moved
            carried[..., 0] -= moved
        carried[..., 0] = np.clip(carried[..., 0], 0, 1)
        mixed = (votes + self.temporal_weight * carried)
        return mixed / mixed.sum(-1, keepdims=True)
