"""DAVIS J and F on hand-computed cases."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.metrics import boundary_map, f_measure, jaccard  # noqa: E402


def test_jaccard_hand_cases():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    assert jaccard(a, b) == 1.0  # both empty
    a[0:4, 0:5] = True  # 20 px
    assert jaccard(a, b) == 0.0
    b[2:6, 0:5] = True  # 20 px, overlap rows 2-3: 10 px
    assert jaccard(a, b) == pytest.approx(10 / 30)
    assert jaccard(a, a) == 1.0


def test_boundary_map_of_a_square():
    m = np.zeros((8, 8), bool)
    m[2:5, 2:5] = True
    b = boundary_map(m)
    # pixels that differ from a right / lower / lower-right neighbour: the square's own right column and
    # bottom row, and the outside pixels just left of / above it (a 1-px outline on both sides)
    want = np.zeros((8, 8), bool)
    want[1, 1:5] = True  # above (and the corner above-left)
    want[1:5, 1] = True  # left
    want[2:5, 4] = True  # own right column
    want[4, 2:5] = True  # own bottom row
    np.testing.assert_array_equal(b, want)
    assert not boundary_map(np.zeros((5, 5), bool)).any()
    full = boundary_map(np.ones((5, 5), bool))
    assert not full.any()  # the image border is not a boundary: pixels beyond the last row/column are ignored


def test_f_measure_hand_cases():
    h, w = 100, 100
    radius = math.ceil(0.008 * math.hypot(h, w))
    assert radius == 2
    empty = np.zeros((h, w), bool)
    sq = np.zeros((h, w), bool)
    sq[30:60, 30:60] = True
    assert f_measure(empty, empty) == 1.0
    assert f_measure(sq, empty) == 0.0 and f_measure(empty, sq) == 0.0
    assert f_measure(sq, sq) == 1.0
    # shifted by radius: every boundary pixel still finds a partner
    assert f_measure(np.roll(sq, radius, axis=1), sq) == 1.0
    # shifted far: no boundary pixel matches except where the outlines cross
    far = np.roll(sq, 10, axis=1)
    pb, gb = boundary_map(far), boundary_map(sq)
    f = f_measure(far, sq)
    assert 0.0 < f < 0.5
    # precision = recall here (same shape), so F equals the matched fraction of one outline
    import cv2

    r = np.arange(-radius, radius + 1)
    disk = ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).astype(np.uint8)
    matched = np.logical_and(pb, cv2.dilate(gb.astype(np.uint8), disk) > 0).sum() / pb.sum()
    assert f == pytest.approx(matched)


def test_f_measure_precision_recall_asymmetry():
    gt = np.zeros((100, 100), bool)
    gt[20:80, 20:80] = True
    pred = gt.copy()
    pred[5:10, 5:10] = True  # an extra blob: lowers precision only
    pb = boundary_map(pred).sum()
    extra = boundary_map(pred).sum() - boundary_map(gt).sum()
    precision = (pb - extra) / pb
    want = 2 * precision * 1.0 / (precision + 1.0)
    assert f_measure(pred, gt) == pytest.approx(want)
