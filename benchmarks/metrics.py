"""DAVIS region (J) and boundary (F) measures for binary masks, as the DAVIS toolkit defines them.

J is the intersection over union (1 when both masks are empty). F compares the one-pixel boundaries
of the two masks: a boundary pixel of one counts as matched when a boundary pixel of the other lies
within ``ceil(bound_th * image diagonal)`` px (a disk); F is the harmonic mean of the matched
fractions (precision over the prediction's boundary, recall over the ground truth's).
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    pred = pred.astype(bool)
    gt = gt.astype(bool)
    union = np.logical_or(pred, gt).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, gt).sum() / union)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary of a binary mask: pixels that differ from their right, lower or lower-right
    neighbour (the last row and column compare with what lies beyond the image: nothing)."""
    seg = mask.astype(bool)
    right = np.zeros_like(seg)
    below = np.zeros_like(seg)
    diag = np.zeros_like(seg)
    right[:, :-1] = seg[:, 1:]
    below[:-1, :] = seg[1:, :]
    diag[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ right) | (seg ^ below) | (seg ^ diag)
    b[-1, :] = seg[-1, :] ^ right[-1, :]
    b[:, -1] = seg[:, -1] ^ below[:, -1]
    b[-1, -1] = False
    return b


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius).astype(np.uint8)


def f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    h, w = gt.shape[:2]
    radius = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(h, w))
    pb = boundary_map(pred)
    gb = boundary_map(gt)
    kernel = _disk(int(radius))
    p_dil = cv2.dilate(pb.astype(np.uint8), kernel).astype(bool)
    g_dil = cv2.dilate(gb.astype(np.uint8), kernel).astype(bool)
    n_p, n_g = int(pb.sum()), int(gb.sum())
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0  # (precision, recall) is (1, 0) or (0, 1)
    precision = float(np.logical_and(pb, g_dil).sum()) / n_p
    recall = float(np.logical_and(gb, p_dil).sum()) / n_g
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)
