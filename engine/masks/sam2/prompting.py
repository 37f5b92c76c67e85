"""SAM2 iterative prompting from moving tracks: the paper's Stage 1 (grouping), Stage 2 (refinement)
and the final merge, as the official code does them (DESIGN.md lists the details).

Everything here is written against :class:`VideoSession`, a small interface over a video segmenter
(SAM2's video predictor in production, see :mod:`.session`), so that the algorithm is one readable
piece of NumPy and can be unit-tested with any mask source.

Conventions: tracks are ``xy [N, T, 2]`` (x, y pixels, centres at integer positions) and
``visible [N, T]``; masks are bool ``[H, W]``. A point is in a mask when the pixel it falls in
(``round(x), round(y)``, clipped to the image) is set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Optional, Protocol, Sequence

import numpy as np

from ...ops.medoid_search import medoid, prompt_points

# Official constants (SegAnyMo's SAM2 stage)
REPROMPT_EVERY = 16  # Stage 2 prompts at the canonical frame and every 16th frame
TOP_FRAMES_FRACTION = 0.2  # canonical frame: middle (in time) of the 20 % most populated frames
DILATE_KERNEL = 6  # 6x6 ones, 3 iterations
DILATE_ITERS = 3
MIN_TRACKS_TO_CONTINUE = 6  # Stage 1 stops when fewer moving tracks remain
MIN_POINTS_DILATED = 6  # an object is kept when its dilated mask holds >= 6 points ...
MIN_POINTS_MASK = 1  # ... and its undilated mask >= 1
TAKE_ALL_BELOW = 5  # with <= 5 moving tracks in all, every group is kept
REPROMPT_INSIDE_FRACTION = 0.7  # re-prompt with 3 points when < 70 % of the points are in the mask
MERGE_IOU = 0.9
MERGE_COVERAGE = 0.9
MERGE_FRAME_FRACTION = 0.3


class VideoSession(Protocol):
    """A promptable video segmenter over one clip (one window of frames)."""

    num_frames: int

    def reset(self) -> None:
        """Forget every prompt and result (cached image features may stay)."""

    def add_points(self, frame: int, obj_id: int, points: np.ndarray) -> np.ndarray:
        """Replace ``obj_id``'s prompts on ``frame`` with positive clicks ``points [k, 2]`` (x, y);
        return its mask on that frame, bool ``[H, W]``."""

    def add_mask(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        """Prompt ``obj_id`` with a mask on ``frame``."""

    def propagate(self, reverse: bool = False) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """Track every prompted object from its first prompted frame forward (or backward);
        yields ``(frame, obj_ids, masks [K, H, W] bool)``."""


@dataclass
class GroupedObject:
    """A Stage-1 object: the moving tracks inside its mask at its canonical frame."""

    frame: int  # canonical frame (local)
    tracks: np.ndarray  # indices into the moving tracks given to group_objects
    mask: np.ndarray  # [H, W] bool, SAM2's mask at the canonical frame


@dataclass
class ObjectMasks:
    obj_id: int
    masks: np.ndarray  # [T, H, W] bool
    tracks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def max_grouping_iterations(num_frames: int) -> int:
    """clamp(ceil(T / 16), 5, 10)."""
    return int(min(max(math.ceil(num_frames / REPROMPT_EVERY), 5), 10))


def canonical_frame(visible: np.ndarray) -> int:
    """The middle frame, in time, of the 20 % of frames with the most visible tracks.

    ``visible [N, T]``. Falls back to the most populated frame when that middle frame has none.
    Ties between equally populated frames go to the earlier frame (stable ranking).
    """
    counts = visible.sum(axis=0)
    t_len = counts.shape[0]
    top_k = int(t_len * TOP_FRAMES_FRACTION)
    ranked = np.argsort(-counts, kind="stable")
    top = np.sort(ranked[:top_k] if top_k > 0 else ranked)  # official: [-0:] keeps every frame
    t = int(top[len(top) // 2])
    if counts[t] == 0:
        t = int(np.argmax(counts))
    return t


def dilate(mask: np.ndarray) -> np.ndarray:
    import cv2

    kernel = np.ones((DILATE_KERNEL, DILATE_KERNEL), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel, iterations=DILATE_ITERS).astype(bool)


def points_in_mask(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    if points.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    x = np.clip(np.floor(points[:, 0] + 0.5).astype(np.int64), 0, w - 1)
    y = np.clip(np.floor(points[:, 1] + 0.5).astype(np.int64), 0, h - 1)
    return mask[y, x].astype(bool)


def group_objects(session: VideoSession, xy: np.ndarray, visible: np.ndarray,
                  max_iters: Optional[int] = None) -> list[GroupedObject]:
    """Stage 1. Repeatedly: at the canonical frame of the remaining tracks, prompt with the medoid of
    the visible ones, take SAM2's mask, assign the tracks inside it (undilated) to a new object when
    the mask holds >= 1 point and its dilation >= 6, then remove every track inside the dilated mask.
    Stops after ``max_iters`` rounds or when fewer than 6 tracks remain."""
    n, t_len = visible.shape
    if max_iters is None:
        max_iters = max_grouping_iterations(t_len)
    take_all = n <= TAKE_ALL_BELOW
    remaining = np.arange(n)
    objects: list[GroupedObject] = []
    for _ in range(max_iters):
        vis = visible[remaining]
        if remaining.size == 0 or not vis.any():
            break
        t = canonical_frame(vis)
        pts = xy[remaining, t]
        v = vis[:, t]
        vis_idx = np.flatnonzero(v)
        prompt = pts[vis_idx[medoid(pts[vis_idx])]][None]
        session.reset()
        mask = session.add_points(t, 1, prompt)
        in_mask = v & points_in_mask(mask, pts)
        in_dilated = v & points_in_mask(dilate(mask), pts)
        keep = in_mask.sum() >= MIN_POINTS_MASK and in_dilated.sum() >= MIN_POINTS_DILATED
        if keep or (take_all and in_mask.any()):
            objects.append(GroupedObject(frame=t, tracks=remaining[in_mask], mask=mask))
        if not in_dilated.any():
            break  # nothing removed: every further round would repeat this one exactly
        remaining = remaining[~in_dilated]
        if remaining.size < MIN_TRACKS_TO_CONTINUE:
            break
    return objects


def refine_object(session: VideoSession, obj_id: int, xy: np.ndarray, visible: np.ndarray,
                  canonical: int) -> Optional[np.ndarray]:
    """Stage 2 for one object given its tracks ``xy [n, T, 2]``, ``visible [n, T]``.

    Prompts at the canonical frame and every 16th frame with the medoid of the visible points,
    re-prompting with 3 points (nearest to centroid + 2 farthest) when fewer than 70 % of them fall in
    the mask; propagates forward and backward and ORs. Returns ``[T, H, W]`` bool, or None when the
    object has no visible point at any prompt frame.
    """
    t_len = visible.shape[1]
    prompt_frames = [canonical] + [t for t in range(0, t_len, REPROMPT_EVERY) if t != canonical]
    session.reset()
    prompted = False
    backward = True
    for t in prompt_frames:
        v = visible[:, t]
        if not v.any():
            continue
        if t == 0:
            backward = False  # every frame is already ahead of a prompt
        pts = xy[v, t]
        mask = session.add_points(t, obj_id, pts[medoid(pts)][None])
        if points_in_mask(mask, pts).sum() < REPROMPT_INSIDE_FRACTION * pts.shape[0]:
            session.add_points(t, obj_id, pts[prompt_points(pts)])
        prompted = True
    if not prompted:
        return None
    out: Optional[np.ndarray] = None
    for reverse in ((False, True) if backward else (False,)):
        for frame, ids, masks in session.propagate(reverse=reverse):
            m = masks[ids.index(obj_id)]
            if out is None:
                out = np.zeros((t_len,) + m.shape, dtype=bool)
            out[frame] |= m
    return out


def merge_groups(masks: Sequence[np.ndarray], frames: Optional[slice] = None) -> list[list[int]]:
    """Which objects are one: a pair is linked when, in >= 30 % of the frames, their masks have
    IoU > 0.9 or one covers >= 90 % of the other; linked objects form groups (connected components).

    ``masks``: per object ``[T, H, W]`` bool. Returns groups of positions into ``masks``, each sorted,
    ordered by their first member.
    """
    k = len(masks)
    parent = list(range(k))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    if k > 1:
        sel = frames if frames is not None else slice(None)
        flat = [m[sel].reshape(m[sel].shape[0], -1) for m in masks]
        t_len = flat[0].shape[0]
        area = [f.sum(1) for f in flat]
        for i in range(k):
            for j in range(i + 1, k):
                inter = np.logical_and(flat[i], flat[j]).sum(1)
                union = area[i] + area[j] - inter
                iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
                cov_i = np.where(area[i] > 0, inter / np.maximum(area[i], 1), 0.0)
                cov_j = np.where(area[j] > 0, inter / np.maximum(area[j], 1), 0.0)
                hit = (iou > MERGE_IOU) | (cov_i >= MERGE_COVERAGE) | (cov_j >= MERGE_COVERAGE)
                if t_len and hit.sum() / t_len >= MERGE_FRAME_FRACTION:
                    parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(k):
        groups.setdefault(find(i), []).append(i)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def compose_labels(masks: Sequence[np.ndarray], ids: Sequence[int], shape: tuple[int, ...]) -> np.ndarray:
    """Paint per-object masks into one uint8 label map per frame; on overlap the lower id wins
    (as the official writer does)."""
    labels = np.zeros(shape, dtype=np.uint8)
    for i in np.argsort(ids)[::-1]:
        if ids[i] > 255:
            raise ValueError("more than 255 object ids do not fit the uint8 label maps")
        labels[masks[i]] = ids[i]
    return labels


def segment_clip(session: VideoSession, xy: np.ndarray, visible: np.ndarray) -> list[ObjectMasks]:
    """The whole official procedure on one clip: Stage 1, Stage 2 per object, merge.

    Returns merged objects with ids 1..K (in order of their first Stage-1 object).
    """
    grouped = group_objects(session, xy, visible)
    refined: list[ObjectMasks] = []
    for k, obj in enumerate(grouped, start=1):
        m = refine_object(session, k, xy[obj.tracks], visible[obj.tracks], obj.frame)
        if m is not None:
            refined.append(ObjectMasks(obj_id=k, masks=m, tracks=obj.tracks))
    out = []
    for new_id, group in enumerate(merge_groups([o.masks for o in refined]), start=1):
        union = np.logical_or.reduce([refined[i].masks for i in group])
        tracks = np.unique(np.concatenate([refined[i].tracks for i in group]))
        out.append(ObjectMasks(obj_id=new_id, masks=union, tracks=tracks))
    return out
