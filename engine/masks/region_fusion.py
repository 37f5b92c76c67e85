"""Motion and appearance, region by region: which parts of the salient and the moving areas of a frame
belong to an object that moves on its own.

A frame's regions are the connected components of three disjoint areas: salient and moving (S∧M),
salient only (S∧¬M) and moving only (M∧¬S), where S is the saliency map above a threshold and M the
motion densifier's objects. Splitting each salient blob where motion ends lets the decision keep a
bear's legs (salient, next to its moving body) and drop the rock beside it (salient, static), or keep a
small mover that saliency misses (moving only). Each region is described by :data:`FEATURES` and a
small classifier (:class:`RegionModel`) or a fixed rule (:class:`RegionRule`) keeps it or not.

Motion stays the judge: a salient-only region counts only if its salient blob holds moving pixels, so a
frame without motion has no object however salient its content. Each kept region takes the id of the
motion object it overlaps (salient-only regions: the object that moves inside their blob).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..errors import ModelFileError

SALIENT_MOVING, SALIENT_ONLY, MOVING_ONLY = 0, 1, 2
FEATURES = ("is_salient_moving", "is_salient_only", "is_moving_only", "log_area", "saliency_mean",
            "motion_mean", "ring_moving", "ring_salient", "blob_moving_share", "motion_salient_share",
            "log_blob_area", "log_motion_area", "moving_track_share", "log_tracks", "touches_border",
            "log_moving_tracks")


@dataclass
class FrameRegions:
    labels: np.ndarray  # [h, w] int32, 0 = no region, r = region r (1-based)
    features: np.ndarray  # [R, len(FEATURES)] float32
    kind: np.ndarray  # [R] SALIENT_MOVING / SALIENT_ONLY / MOVING_ONLY
    blob: np.ndarray  # [R] salient blob of each region (0: none)
    object_id: np.ndarray  # [R] motion object id the region takes (0: none yet)

    @property
    def count(self) -> int:
        return len(self.kind)


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    return cv2.connectedComponents(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8),
                                   connectivity=8)


def _per_region(labels: np.ndarray, n: int, values: Optional[np.ndarray] = None) -> np.ndarray:
    return np.bincount(labels.ravel(), None if values is None else values.ravel(), minlength=n + 1)[1:]


def _majority(labels: np.ndarray, n: int, ids: np.ndarray) -> np.ndarray:
    """For each region 1..n, its most frequent non-zero value of ``ids`` (0 where it has none)."""
    sel = (labels > 0) & (ids > 0)
    if not sel.any():
        return np.zeros(n, np.int64)
    pairs = labels[sel].astype(np.int64) * 256 + ids[sel].astype(np.int64)
    uniq, counts = np.unique(pairs, return_counts=True)
    region, obj = uniq // 256, uniq % 256
    best = np.zeros(n + 1, np.int64)
    top = np.zeros(n + 1, np.int64)
    for r, o, c in zip(region, obj, counts):
        if c > top[r]:
            top[r], best[r] = c, o
    return best[1:]


def frame_regions(saliency: np.ndarray, motion_ids: np.ndarray, motion_soft: np.ndarray, moving_xy: np.ndarray,
                  static_xy: np.ndarray, work_hw: tuple[int, int], threshold: float = 0.5) -> FrameRegions:
    """The regions of one frame, all maps ``[h, w]`` on one grid: ``saliency`` in [0, 1], ``motion_ids``
    the motion densifier's object ids, ``motion_soft`` its foreground probability; the visible moving and
    static tracks' positions in working pixels (``work_hw`` is the working size)."""
    h, w = saliency.shape
    salient = saliency > threshold
    moving = motion_ids > 0
    labels = np.zeros((h, w), np.int32)
    kinds: list[int] = []
    n = 0
    for kind, area in ((SALIENT_MOVING, salient & moving), (SALIENT_ONLY, salient & ~moving),
                       (MOVING_ONLY, moving & ~salient)):
        k, comp = _components(area)
        if k > 1:
            labels[area] = comp[area] + n
            kinds += [kind] * (k - 1)
            n += k - 1
    kind = np.asarray(kinds, np.int64)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return FrameRegions(labels, np.zeros((0, len(FEATURES)), np.float32), empty, empty, empty)
    area = _per_region(labels, n).astype(np.float64)
    pixels = float(h * w)
    sal_mean = _per_region(labels, n, saliency) / np.maximum(area, 1)
    mot_mean = _per_region(labels, n, motion_soft) / np.maximum(area, 1)
    ring_moving, ring_salient = _rings(labels, n, moving, salient)
    blobs_n, blobs = _components(salient)
    motion_n, motions = _components(moving)
    blob = _majority(labels, n, blobs)
    motion_blob = _majority(labels, n, motions)
    blob_area = np.bincount(blobs.ravel(), minlength=blobs_n).astype(np.float64)
    blob_moving = np.bincount(blobs[moving], minlength=blobs_n).astype(np.float64)
    motion_area = np.bincount(motions.ravel(), minlength=motion_n).astype(np.float64)
    motion_salient = np.bincount(motions[salient], minlength=motion_n).astype(np.float64)
    has_blob, has_motion = blob > 0, motion_blob > 0
    blob_share = np.where(has_blob, blob_moving[blob] / np.maximum(blob_area[blob], 1), 0.0)
    motion_share = np.where(has_motion, motion_salient[motion_blob] / np.maximum(motion_area[motion_blob], 1), 0.0)
    blob_frac = np.where(has_blob, blob_area[blob] / pixels, 0.0)
    motion_frac = np.where(has_motion, motion_area[motion_blob] / pixels, 0.0)
    n_moving = _tracks_in(labels, n, moving_xy, work_hw)
    n_static = _tracks_in(labels, n, static_xy, work_hw)
    total = n_moving + n_static
    border = np.zeros(n)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    edge = edge[edge > 0]
    if len(edge):
        border[np.unique(edge) - 1] = 1.0
    features = np.stack([kind == SALIENT_MOVING, kind == SALIENT_ONLY, kind == MOVING_ONLY,
                         np.log(area / pixels + 1e-6), sal_mean, mot_mean, ring_moving, ring_salient,
                         blob_share, motion_share, np.log(blob_frac + 1e-6), np.log(motion_frac + 1e-6),
                         n_moving / np.maximum(total, 1), np.log1p(total), border, np.log1p(n_moving)], 1)
    object_id = _majority(labels, n, motion_ids)
    # a salient-only region takes the object that moves inside its blob
    blob_object = np.zeros(blobs_n, np.int64)
    blob_object[1:] = _majority(blobs, blobs_n - 1, np.where(moving, motion_ids, 0)) if blobs_n > 1 else []
    object_id = np.where(kind == SALIENT_ONLY, blob_object[blob], object_id)
    return FrameRegions(labels, features.astype(np.float32), kind, blob, object_id)


def _rings(labels: np.ndarray, n: int, moving: np.ndarray, salient: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of moving / salient pixels in a 2-pixel ring around each region."""
    grown = cv2.dilate(labels.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int32)
    ring = (grown > 0) & (grown != labels)
    idx = np.where(ring, grown, 0)
    size = np.maximum(_per_region(idx, n).astype(np.float64), 1)
    return (_per_region(idx, n, moving.astype(np.float64)) / size,
            _per_region(idx, n, salient.astype(np.float64)) / size)


def _tracks_in(labels: np.ndarray, n: int, xy: np.ndarray, work_hw) -> np.ndarray:
    if len(xy) == 0:
        return np.zeros(n)
    h, w = labels.shape
    x = np.clip((xy[:, 0] * w / work_hw[1]).astype(np.int64), 0, w - 1)
    y = np.clip((xy[:, 1] * h / work_hw[0]).astype(np.int64), 0, h - 1)
    return _per_region(labels[y, x], n).astype(np.float64)


def eligible(regions: FrameRegions) -> np.ndarray:
    """Regions that may be kept at all: a salient-only region needs motion inside its salient blob."""
    share = regions.features[:, FEATURES.index("blob_moving_share")]
    return ~((regions.kind == SALIENT_ONLY) & (share <= 0))


def decide(regions: FrameRegions, prob: np.ndarray, threshold: float, fallback: bool = True) -> np.ndarray:
    """Which regions to keep: eligible ones above ``threshold``; with ``fallback``, when none is kept
    but the frame moves, every moving region (the motion mask as it was)."""
    keep = eligible(regions) & (prob > threshold)
    if fallback and not keep.any():
        keep = regions.kind != SALIENT_ONLY
    return keep


def fused_labels(regions: FrameRegions, keep: np.ndarray) -> np.ndarray:
    """``[h, w]`` uint8 object ids of the kept regions."""
    lut = np.zeros(regions.count + 1, np.uint8)
    lut[1:] = np.where(keep, regions.object_id, 0).astype(np.uint8)
    return lut[regions.labels]


class RegionRule:
    """Keeps every salient blob whose pixels move for more than ``share`` of its area, and the moving
    regions only when no blob qualifies. Needs no training (and so no data licence)."""

    def __init__(self, share: float = 0.1):
        self.share = share

    def prob(self, features: np.ndarray) -> np.ndarray:
        share = features[:, FEATURES.index("blob_moving_share")]
        salient = features[:, FEATURES.index("is_moving_only")] < 0.5
        return (salient & (share > self.share)).astype(np.float32)


class RegionModel:
    """A small MLP over :data:`FEATURES` (normalised by the training set's mean and spread), read from a
    safetensors file that also records its feature names and training data."""

    def __init__(self, path):
        from safetensors.numpy import load_file
        from safetensors import safe_open

        self.path = Path(path)
        try:
            tensors = load_file(str(self.path))
            with safe_open(str(self.path), framework="numpy") as f:
                self.metadata = dict(f.metadata() or {})
        except Exception as exc:  # noqa: BLE001 - a missing or foreign file
            raise ModelFileError(f"cannot read region model {self.path}: {exc}") from None
        names = json.loads(self.metadata.get("features", "[]"))
        if tuple(names) != FEATURES:
            raise ModelFileError(f"{self.path}: trained on features {names}, this engine computes {list(FEATURES)}")
        try:
            self.mean, self.std = tensors["mean"], tensors["std"]
            self.layers = [(tensors[f"w{i}"], tensors[f"b{i}"]) for i in range(len(tensors) // 2 - 1)]
        except KeyError as exc:
            raise ModelFileError(f"{self.path}: no tensor {exc} (not a region model)") from None
        self.threshold = float(self.metadata.get("threshold", 0.5))

    def prob(self, features: np.ndarray) -> np.ndarray:
        return mlp_prob(features, self.mean, self.std, self.layers)


def mlp_prob(features: np.ndarray, mean, std, layers) -> np.ndarray:
    """The region MLP: standardised ``features [R, F]``, ReLU between ``layers``, sigmoid of the last."""
    x = (features - mean) / std
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return (1.0 / (1.0 + np.exp(-x[:, 0]))).astype(np.float32)


def save_region_model(path, mean, std, layers, metadata: dict) -> None:
    """Write a region model (``layers``: ``[(weight [out, in], bias [out]), ...]``) as :class:`RegionModel` reads it."""
    from safetensors.numpy import save_file

    tensors = {"mean": np.asarray(mean, np.float32), "std": np.asarray(std, np.float32)}
    for i, (w, b) in enumerate(layers):
        tensors[f"w{i}"] = np.asarray(w, np.float32)
        tensors[f"b{i}"] = np.asarray(b, np.float32)
    meta = {"format": "motionseg_trt.region_model", "features": json.dumps(list(FEATURES))}
    meta.update({k: str(v) for k, v in metadata.items()})
    save_file(tensors, str(path), metadata=meta)
