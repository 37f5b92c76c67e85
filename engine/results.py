"""Per-frame results of the Python API (:func:`motionseg_trt.segment`): the frame's label map at the
input's size (the same array ``masks/%05d.png`` holds) and the objects present in it, with the same
box and score as ``objects.json``.

An object's ``score`` in a frame is the mean motion probability (the labeller's) of the visible tracks
that fall inside its mask, at the working resolution; None when no visible track falls inside. The
object filter computes it (:func:`frame_scores`, the one place that does) for its evidence and hands it
on with the final ids; a frame the stages did not process has the score of the frame it repeats.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np


@dataclass(frozen=True)
class FrameObject:
    """One object in one frame."""

    id: int  # the object id: its value in ``labels``, stable over the video
    score: Optional[float]  # mean motion probability of its tracks in this frame (None: no track inside)
    box: tuple[int, int, int, int]  # (x, y, width, height) at the input's size (COCO's bbox convention)
    area: int  # pixels at the input's size


@dataclass
class FrameResult:
    """One frame of :func:`motionseg_trt.segment`."""

    index: int  # frame number in the input, from 0
    labels: np.ndarray  # [H, W] uint8 at the input's size: 0 background, k = object k (= masks/%05d.png)
    objects: list[FrameObject] = field(default_factory=list)  # by id

    def mask(self, object_id: int) -> np.ndarray:
        """``[H, W]`` bool mask of one object."""
        return self.labels == object_id


def frame_objects(labels: np.ndarray, scores: dict[int, float]) -> list[FrameObject]:
    """The objects of an input-size label map, with their boxes and areas."""
    areas = np.bincount(labels.ravel(), minlength=2)
    out = []
    for obj in (np.flatnonzero(areas[1:]) + 1).tolist():
        mask = labels == obj
        cols, rows = np.flatnonzero(mask.any(0)), np.flatnonzero(mask.any(1))
        box = (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
        out.append(FrameObject(id=int(obj), score=scores.get(obj), box=box, area=int(areas[obj])))
    return out


def frame_scores(labels: np.ndarray, xy: np.ndarray, visible: np.ndarray, prob: np.ndarray) -> dict[int, float]:
    """Object id -> mean ``prob`` of the visible tracks whose point (``xy`` [N, 2], working pixels) lies
    in that object in ``labels`` (working resolution); points outside the frame are in no object."""
    if len(prob) != len(xy) or not len(xy):
        return {}
    h, w = labels.shape
    pts = np.rint(xy[visible]).astype(np.int64)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    pts, p = pts[inside], np.asarray(prob, np.float64)[visible][inside]
    ids = labels[pts[:, 1], pts[:, 0]].astype(np.int64)
    on = ids > 0
    sums = np.bincount(ids[on], weights=p[on], minlength=256)
    counts = np.bincount(ids[on], minlength=256)
    return {int(i): round(float(sums[i] / counts[i]), 4) for i in np.flatnonzero(counts)}


def frame_results(masks) -> Iterator[FrameResult]:
    """The frames of one step's :class:`~motionseg_trt.io.sinks.base.OutputMasks` (consecutive input
    frames, final ids and scores), in order."""
    for i in range(len(masks.labels)):
        # a copy: the writer thread may still be reading the shared array
        labels = np.array(masks.at_input_size(i), dtype=np.uint8, copy=True)
        yield FrameResult(index=masks.start + i, labels=labels, objects=frame_objects(labels, masks.score(i)))
