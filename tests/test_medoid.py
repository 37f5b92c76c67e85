"""Exact medoid search: bound-and-prune vs brute force, C++ extension vs NumPy fallback."""
import importlib

import numpy as np
import pytest

from motionseg_trt.ops._ext import load_extension
from motionseg_trt.ops.medoid_search import exact_sums, medoid, medoid_batched, medoid_bruteforce, prompt_points

# the module itself (motionseg_trt.ops resolves the name "medoid" to the function)
medoid_mod = importlib.import_module("motionseg_trt.ops.medoid_search")

HAVE_EXT = load_extension("medoid") is not None
BACKENDS = [False] + ([True] if HAVE_EXT else [])


def _sets():
    rng = np.random.default_rng(7)
    yield "uniform-300", (rng.random((300, 2)) * 640).astype(np.float32)
    yield "uniform-2000", (rng.random((2000, 2)) * 640).astype(np.float32)
    centres = rng.random((4, 2)) * 500
    lab = rng.integers(0, 4, 1500)
    yield "clustered", (centres[lab] + rng.normal(size=(1500, 2)) * rng.choice([2.0, 30.0], (1500, 1))).astype(np.float32)
    yield "n1", np.array([[3.5, -2.0]], np.float32)
    yield "n2", np.array([[0.0, 0.0], [4.0, 3.0]], np.float32)
    yield "all-duplicates", np.tile(np.array([[10.0, 20.0]], np.float32), (500, 1))
    dup = np.repeat((rng.random((40, 2)) * 100).astype(np.float32), 25, axis=0)
    yield "duplicated-locations", dup[rng.permutation(dup.shape[0])]
    yield "two-points-many-copies", np.array([[0, 0]] * 150 + [[5, 5]] * 150, np.float32)
    x = np.arange(400, dtype=np.float32)
    yield "collinear-even", np.stack([x, 2 * x + 1], 1)
    yield "collinear-shuffled", np.stack([x, np.zeros_like(x)], 1)[rng.permutation(400)]
    yield "integer-grid-ties", rng.integers(0, 6, (700, 2)).astype(np.float32)
    yield "negative-zero", np.array([[0.0, 0.0], [-0.0, 0.0], [1.0, 1.0], [-1.0, -1.0]] * 30, np.float32)
    yield "large-coords", (rng.random((800, 2)) * 1e4 + 1e4).astype(np.float32)


@pytest.mark.parametrize("use_ext", BACKENDS)
@pytest.mark.parametrize("name,pts", list(_sets()), ids=[n for n, _ in _sets()])
def test_medoid_matches_bruteforce(name, pts, use_ext):
    want = medoid_bruteforce(pts)
    got = medoid(pts, use_extension=use_ext)
    assert got == want
    # the definition: a minimiser of the sums, lowest index among ties
    sums = exact_sums(pts)
    assert sums[got] == sums.min() and not (sums[:got] == sums.min()).any()


def test_ties_go_to_lowest_index():
    pts = np.array([[0, 0], [5, 5], [0, 0], [5, 5]], np.float32)
    for use_ext in BACKENDS:
        assert medoid(pts, use_extension=use_ext) == 0
    # symmetric square: every corner has the same sum
    sq = np.array([[1, 1], [0, 0], [1, 0], [0, 1]], np.float32)
    for use_ext in BACKENDS:
        assert medoid(sq, use_extension=use_ext) == 0


def test_pruning_path_is_exercised_and_exact():
    # large enough for the grid path; the bound must skip most exact sums, answers must not change
    rng = np.random.default_rng(3)
    pts = (rng.normal(size=(5000, 2)) * 80).astype(np.float32)
    calls = []
    real = medoid_mod.exact_sums

    def counting(points, idx=None):
        calls.append(pts.shape[0] if idx is None else len(idx))
        return real(points, idx)

    medoid_mod.exact_sums = counting
    try:
        got = medoid_mod._medoid_numpy(pts)
    finally:
        medoid_mod.exact_sums = real
    assert got == medoid_bruteforce(pts)
    assert sum(calls) < pts.shape[0] // 5  # far fewer exact sums than points


@pytest.mark.skipif(not HAVE_EXT, reason="motionseg_trt._C_medoid not built (optional extension)")
def test_extension_equals_fallback_on_near_ties():
    rng = np.random.default_rng(11)
    for trial in range(30):
        n = int(rng.integers(65, 3000))
        # quantised coordinates make many exact and near ties
        pts = (rng.integers(0, 40, (n, 2)) * 0.25).astype(np.float32)
        assert medoid(pts, use_extension=True) == medoid(pts, use_extension=False) == medoid_bruteforce(pts)


@pytest.mark.parametrize("use_ext", BACKENDS)
def test_batched(use_ext):
    rng = np.random.default_rng(5)
    t_len, n = 6, 400
    pts = (rng.random((t_len, n, 2)) * 300).astype(np.float32)
    vis = rng.random((t_len, n)) < 0.6
    vis[2] = False  # a frame with no visible point
    vis[4] = False
    vis[4, 17] = True  # a frame with exactly one
    got = medoid_batched(pts, vis, use_extension=use_ext)
    assert got.dtype == np.int64 and got.shape == (t_len,)
    for t in range(t_len):
        idx = np.flatnonzero(vis[t])
        want = -1 if idx.size == 0 else idx[medoid_bruteforce(pts[t, idx])]
        assert got[t] == want
    assert (medoid_batched(pts, None, use_extension=use_ext)
            == [medoid_bruteforce(pts[t]) for t in range(t_len)]).all()


@pytest.mark.parametrize("use_ext", BACKENDS)
def test_prompt_points(use_ext):
    pts = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [5, 5.2], [30, 30]], np.float32)
    sel = prompt_points(pts, use_extension=use_ext)
    # centroid (9.167, 9.2): nearest is (10, 10); farthest (30, 30), then (0, 0)
    assert sel.tolist() == [3, 5, 0]
    assert prompt_points(pts[:1], use_extension=use_ext).tolist() == [0]
    assert prompt_points(pts[:2], use_extension=use_ext).tolist() == [0, 1]
    # equal distances everywhere: nearest is index 0, then the lowest other indices
    ring = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], np.float32)
    assert prompt_points(ring, use_extension=use_ext).tolist() == [0, 1, 2]


@pytest.mark.skipif(not HAVE_EXT, reason="motionseg_trt._C_medoid not built (optional extension)")
def test_prompt_points_extension_equals_fallback():
    rng = np.random.default_rng(2)
    for _ in range(20):
        pts = (rng.integers(0, 9, (int(rng.integers(1, 200)), 2))).astype(np.float32)
        assert (prompt_points(pts, use_extension=True) == prompt_points(pts, use_extension=False)).all()


@pytest.mark.skipif(not medoid_mod.cuda_available(), reason="no CUDA build of _C_medoid or no GPU")
def test_cuda_kernel_equals_cpu():
    rng = np.random.default_rng(4)
    for n in (1, 2, 50, 3000, 20000):
        pts = (rng.normal(size=(n, 2)) * 60).astype(np.float32)
        assert medoid(pts, device="cuda") == medoid(pts, use_extension=False)
    ties = (rng.integers(0, 30, (5000, 2)) * 0.5).astype(np.float32)
    assert medoid(ties, device="cuda") == medoid_bruteforce(ties)


def test_bad_input():
    with pytest.raises(ValueError):
        medoid(np.zeros((0, 2), np.float32), use_extension=False)
    with pytest.raises(ValueError):
        medoid(np.zeros((3, 3), np.float32), use_extension=False)
    with pytest.raises(ValueError):
        medoid(np.array([[0, np.nan]], np.float32), use_extension=False)
