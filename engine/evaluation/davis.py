"""The DAVIS measures of one frame: region similarity J and boundary accuracy F.

They follow the official DAVIS toolkits (fperazzi/davis for DAVIS-2016, davisvideochallenge/
davis2017-evaluation and davis-matlab):

* **J** is the intersection over union of the two masks; 1 when both are empty.
* **F** compares one-pixel boundaries. ``seg2bmap`` (D. Martin's Berkeley boundary map) marks a pixel
  that differs from its right, lower or lower-right neighbour; in the last row and column only the
  neighbour inside the image counts, and the bottom-right pixel is never a boundary (so the image
  border itself is not a boundary). A boundary pixel of one mask is matched when the other mask's
  boundary, dilated by a disk of radius ``ceil(bound_th * image diagonal)`` px (``bound_th`` >= 1: that
  many pixels), covers it. Precision is the matched fraction of the prediction's boundary, recall that
  of the ground truth's; F is their harmonic mean. With no boundary on either side F is 1; with a
  boundary on one side only, (precision, recall) is (1, 0) or (0, 1) and F is 0.

Masks are binarised with ``> 0`` (any object id is foreground), as moving-object segmentation scores
all moving objects as one.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

DEFAULT_BOUND_TH = 0.008


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two binary masks (1.0 when both are empty)."""
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    union = int(np.count_nonzero(pred | gt))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pred & gt)) / union


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary mask, as the DAVIS toolkits compute it (half a pixel
    towards the origin from the true boundary: outside pixels above and left of a region are marked,
    and the region's own bottom row and right column)."""
    seg = np.asarray(mask, bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def boundary_radius(shape: tuple[int, ...], bound_th: float = DEFAULT_BOUND_TH) -> int:
    """Matching distance in pixels: ``bound_th`` itself when >= 1, else that fraction of the image
    diagonal rounded up (854x480: 8 px)."""
    if bound_th >= 1:
        return int(bound_th)
    return math.ceil(bound_th * math.hypot(shape[0], shape[1]))


def disk(radius: int) -> np.ndarray:
    """Structuring element: pixels with dx^2 + dy^2 <= radius^2 (skimage.morphology.disk)."""
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius).astype(np.uint8)


def f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = DEFAULT_BOUND_TH) -> float:
    """Boundary F-measure of a binary prediction against a binary ground truth of the same size."""
    pred_b = seg2bmap(pred)
    gt_b = seg2bmap(gt)
    n_pred, n_gt = int(np.count_nonzero(pred_b)), int(np.count_nonzero(gt_b))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    kernel = disk(boundary_radius(gt.shape, bound_th))
    gt_dil = cv2.dilate(gt_b.view(np.uint8), kernel).view(bool)
    pred_dil = cv2.dilate(pred_b.view(np.uint8), kernel).view(bool)
    precision = np.count_nonzero(pred_b & gt_dil) / n_pred
    recall = np.count_nonzero(gt_b & pred_dil) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def frame_scores(pred: np.ndarray, gt: np.ndarray, bound_th: float = DEFAULT_BOUND_TH) -> tuple[float, float]:
    """(J, F) of one frame; both arrays are binarised with ``> 0``. Shapes must match."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
    pred = pred > 0
    gt = gt > 0
    return jaccard(pred, gt), f_measure(pred, gt, bound_th)
