"""The DAVIS measures (motionseg_trt.evaluation) on hand-computed cases, and against a plain
reference written here from the official toolkits' definitions (seg2bmap boundaries, disk matching)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from motionseg_trt.evaluation import (SequenceScore, boundary_radius, f_measure, frame_scores, jaccard,
                                      mean_scores, report, score_sequence, seg2bmap)


def rect(shape, rows, cols):
    m = np.zeros(shape, bool)
    m[rows[0]:rows[1] + 1, cols[0]:cols[1] + 1] = True  # inclusive bounds, as in the hand counts below
    return m


# ---- hand-made cases -------------------------------------------------------------------------------

def test_identical_masks_score_one():
    m = rect((40, 40), (10, 19), (10, 19))
    assert frame_scores(m, m) == (1.0, 1.0)


def test_disjoint_masks_score_zero():
    a = rect((40, 40), (2, 9), (2, 9))
    b = rect((40, 40), (25, 35), (25, 35))  # boundaries far more than 1 px apart
    assert frame_scores(a, b) == (0.0, 0.0)


def test_empty_against_empty_is_one_and_empty_against_something_is_zero():
    empty = np.zeros((40, 40), bool)
    m = rect((40, 40), (10, 19), (10, 19))
    assert frame_scores(empty, empty) == (1.0, 1.0)
    assert frame_scores(empty, m) == (0.0, 0.0)  # nothing predicted: precision 1, recall 0
    assert frame_scores(m, empty) == (0.0, 0.0)  # nothing to find: precision 0, recall 1
    full = np.ones_like(m)  # a mask filling the frame has no boundary (the border is none): F as if empty
    assert frame_scores(full, empty) == (0.0, 1.0)


def test_seg2bmap_of_a_rectangle_is_the_ring_half_a_pixel_towards_the_origin():
    # a 3x3 square at rows/cols 2..4 -> the ring of the 4x4 square at rows/cols 1..4: 2a + 2b = 12 px
    b = seg2bmap(rect((8, 8), (2, 4), (2, 4)))
    ring = rect((8, 8), (1, 4), (1, 4)) & ~rect((8, 8), (2, 3), (2, 3))
    np.testing.assert_array_equal(b, ring)
    assert not seg2bmap(np.ones((5, 5), bool)).any()  # the image border is no boundary
    assert not seg2bmap(np.zeros((5, 5), bool)).any()


def test_shifted_square_hand_computed():
    """A 10x10 square and the same square 2 px to the right, 40x40 image (radius ceil(0.008 * 56.6) = 1:
    the 4-neighbour cross). J = 80 / 120. Each seg2bmap ring has 40 px; of the shifted ring, matched
    within 1 px: top row 10 of 11, bottom row 10 of 11, left side 2 of 9 (its ends touch the other
    ring's top and bottom rows), right side 0 of 9 -> precision 22/40; recall the same by symmetry."""
    gt = rect((40, 40), (10, 19), (10, 19))
    pred = rect((40, 40), (10, 19), (12, 21))
    assert boundary_radius(gt.shape) == 1
    assert seg2bmap(gt).sum() == 40 and seg2bmap(pred).sum() == 40
    j, f = frame_scores(pred, gt)
    assert j == pytest.approx(80 / 120)
    assert f == pytest.approx(22 / 40)


def test_missed_blob_lowers_recall_only():
    """GT = the square plus a 2x2 blob far away whose ring (2a + 2b = 8 px) nothing matches:
    precision 1, recall 40/48, F = 2 * (5/6) / (1 + 5/6) = 10/11; J = 100/104."""
    pred = rect((40, 40), (10, 19), (10, 19))
    gt = pred | rect((40, 40), (30, 31), (30, 31))
    j, f = frame_scores(pred, gt)
    assert f == pytest.approx(10 / 11)
    assert j == pytest.approx(100 / 104)


def test_radius_follows_the_image_diagonal():
    assert boundary_radius((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert boundary_radius((1080, 1920)) == 18
    assert boundary_radius((480, 854), bound_th=3) == 3  # >= 1: pixels
    gt = rect((480, 854), (100, 300), (200, 500))
    assert f_measure(np.roll(gt, 8, axis=1), gt) == 1.0  # every boundary pixel within 8 px
    assert f_measure(np.roll(gt, 9, axis=1), gt) < 1.0


def test_any_object_id_is_foreground():
    gt = np.zeros((20, 20), np.uint8)
    gt[5:15, 5:15] = 255
    pred = np.zeros((20, 20), np.uint8)
    pred[5:15, 5:10] = 1
    pred[5:15, 10:15] = 2  # two objects that together cover the ground truth
    assert frame_scores(pred, gt) == (1.0, 1.0)
    with pytest.raises(ValueError, match="differ in size"):
        frame_scores(pred, gt[:10])


def test_means_over_frames_then_over_sequences():
    m = rect((40, 40), (10, 19), (10, 19))
    empty = np.zeros_like(m)
    a = score_sequence("a", [(m, m), (empty, m), (m, m), (m, m)])  # J = F = 0.75
    b = score_sequence("b", [(m, m)])  # one frame, 1.0: weighs as much as the 4 frames of "a"
    assert (a.frames, a.J, a.F) == (4, 0.75, 0.75)
    assert mean_scores([a, b]) == {"J": 87.5, "F": 87.5, "J&F": 87.5}
    doc = report([a, b], bound_th=0.008)
    assert doc["sequences"] == {"a": {"J": 75.0, "F": 75.0, "J&F": 75.0}, "b": {"J": 100.0, "F": 100.0, "J&F": 100.0}}
    assert doc["frames"] == {"a": 4, "b": 1}
    with pytest.raises(ValueError, match="no frames"):
        score_sequence("c", [])
    s = SequenceScore("x", (1.0, 0.0), (0.5, 0.5))
    assert s.as_dict() == {"J": 50.0, "F": 50.0, "J&F": 50.0}


# ---- an independent reference: the official definitions written out pixel by pixel ---------------

def reference_seg2bmap(seg):
    """D. Martin's seg2bmap as the DAVIS toolkits use it, one pixel at a time."""
    h, w = seg.shape
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            here = bool(seg[y, x])
            east = bool(seg[y, x + 1]) if x + 1 < w else False
            south = bool(seg[y + 1, x]) if y + 1 < h else False
            south_east = bool(seg[y + 1, x + 1]) if x + 1 < w and y + 1 < h else False
            if y == h - 1 and x == w - 1:
                out[y, x] = False
            elif x == w - 1:
                out[y, x] = here != south
            elif y == h - 1:
                out[y, x] = here != east
            else:
                out[y, x] = here != east or here != south or here != south_east
    return out


def reference_f(pred, gt, bound_th):
    h, w = gt.shape
    r = bound_th if bound_th >= 1 else math.ceil(bound_th * math.sqrt(h * h + w * w))
    pb = list(zip(*np.nonzero(reference_seg2bmap(pred))))
    gb = list(zip(*np.nonzero(reference_seg2bmap(gt))))

    def matched(points, others):
        return sum(any((y - v) ** 2 + (x - u) ** 2 <= r * r for v, u in others) for y, x in points)

    if not pb and not gb:
        return 1.0
    if not pb or not gb:
        return 0.0
    precision = matched(pb, gb) / len(pb)
    recall = matched(gb, pb) / len(gb)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def reference_j(pred, gt):
    inter = sum(1 for p, g in zip(pred.ravel(), gt.ravel()) if p and g)
    union = sum(1 for p, g in zip(pred.ravel(), gt.ravel()) if p or g)
    return 1.0 if union == 0 else inter / union


def _random_mask(rng, shape):
    kind = rng.integers(4)
    if kind == 0:  # speckle
        return rng.random(shape) < rng.uniform(0.05, 0.6)
    if kind == 1:  # a few rectangles, some touching the border
        m = np.zeros(shape, bool)
        for _ in range(rng.integers(1, 4)):
            y0, x0 = rng.integers(0, shape[0]), rng.integers(0, shape[1])
            m[y0:y0 + rng.integers(1, 12), x0:x0 + rng.integers(1, 12)] = True
        return m
    if kind == 2:  # a smooth blob: thresholded low-frequency noise
        coarse = rng.random((shape[0] // 6 + 2, shape[1] // 6 + 2))
        big = np.kron(coarse, np.ones((6, 6)))[:shape[0], :shape[1]]
        return big > rng.uniform(0.3, 0.7)
    return np.zeros(shape, bool) if rng.random() < 0.5 else np.ones(shape, bool)


@pytest.mark.parametrize("bound_th", [0.008, 0.06, 2, 3])
def test_agrees_with_the_reference_on_random_masks(bound_th):
    rng = np.random.default_rng(int(bound_th * 1000))
    for _ in range(25):
        shape = (int(rng.integers(8, 28)), int(rng.integers(8, 36)))
        pred, gt = _random_mask(rng, shape), _random_mask(rng, shape)
        if rng.random() < 0.3:  # a near miss: the prediction is the truth, shifted a little
            gt = np.roll(pred, tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
        np.testing.assert_array_equal(seg2bmap(pred), reference_seg2bmap(pred))
        assert jaccard(pred, gt) == pytest.approx(reference_j(pred, gt), abs=1e-12)
        assert f_measure(pred, gt, bound_th) == pytest.approx(reference_f(pred, gt, bound_th), abs=1e-12)
