"""Dense-point search for SAM2 prompt selection: the medoid of a point set, exactly, without the
all-pairs O(N^2) search the official code does with ``NearestNeighbors``.

The medoid is the point ``i`` with the smallest summed distance ``S(i) = sum_j |p_i - p_j|``. What
"exact" means has to be pinned down so that the C++ extension and this NumPy fallback return the
*same* index, near-ties included. The shared definition:

* coordinates are float32, promoted to float64;
* ``d_ij = sqrt(dx*dx + dy*dy)`` in float64 with ``dx = x_j - x_i`` (no fused multiply-add);
* ``S(i)`` adds ``d_i0, d_i1, ...`` sequentially in index order, in float64;
* the answer is the lowest index among the minimisers of ``S``.

Both implementations evaluate ``S`` this way for every point they cannot rule out, so they agree
bit for bit whatever order they visit candidates in.

Bound-and-prune (why it is fast): bin the points into a grid of cells with counts ``n_c`` and
centroids ``m_c``. By convexity of the norm, the points of a cell are on average no closer to ``p``
than their centroid is, so ``S(p) >= L(p) = sum_c n_c |p - m_c|``; for a whole cell ``B``,
``S(p) >= sum_c n_c dist(m_c, box(B))`` for every ``p`` in it. Start from the point nearest to the
geometric median of the centroids (Weiszfeld), drop every cell whose bound exceeds the best exact sum,
rank the survivors' points by ``L`` and evaluate exact sums in that order until the next bound
exceeds the best. Only a handful of exact O(N) sums are needed on typical point clouds.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._ext import load_extension

# Bounds are computed in float64 and so are the sums: a relative slack far above their rounding
# error (~N * 1e-16) and far below any real difference keeps the pruning safe.
_REL_SLACK = 1e-9
_SMALL_N = 64  # below this, all sums at once is cheaper than building the grid
_BATCH_ELEMS = 1 << 21  # exact sums are evaluated in [b, N] blocks of at most this many elements


def _as_points(points) -> np.ndarray:
    pts = np.ascontiguousarray(points, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be [N, 2], got shape {pts.shape}")
    if pts.shape[0] == 0:
        raise ValueError("medoid of an empty point set")
    if not np.isfinite(pts).all():
        raise ValueError("points must be finite")
    return pts


def exact_sums(points, idx=None) -> np.ndarray:
    """``S(i)`` for the indices ``idx`` (all when None), computed by the shared definition above."""
    p = _as_points(points).astype(np.float64)
    idx = np.arange(p.shape[0]) if idx is None else np.asarray(idx, dtype=np.int64)
    out = np.empty(idx.shape[0], dtype=np.float64)
    step = max(1, _BATCH_ELEMS // p.shape[0])
    for s in range(0, idx.shape[0], step):
        sel = idx[s:s + step]
        dx = p[None, :, 0] - p[sel, 0][:, None]
        dy = p[None, :, 1] - p[sel, 1][:, None]
        d = np.sqrt(dx * dx + dy * dy)
        # cumsum is a sequential running sum: the same rounding as the C++ loop (np.sum is pairwise).
        out[s:s + step] = np.cumsum(d, axis=1)[:, -1]
    return out


def medoid_bruteforce(points) -> int:
    """All-pairs reference: O(N^2) time, the answer every other path must match."""
    sums = exact_sums(points)
    return int(np.argmin(sums))  # argmin returns the first minimiser: lowest index


def _grid_size(n: int) -> int:
    # ~16 points per cell (measured best at 1k-50k points), at most 48x48 cells so that the
    # [cells, cells] bound matrix stays small.
    return int(min(48, max(1, round(np.sqrt(n / 16.0)))))


def _weiszfeld(centres: np.ndarray, weights: np.ndarray, iters: int = 50) -> np.ndarray:
    """Weighted geometric median of the cell centroids (only a starting point: any centre is safe)."""
    c = (centres * weights[:, None]).sum(0) / weights.sum()
    for _ in range(iters):
        d = np.sqrt(((centres - c) ** 2).sum(1))
        if (d < 1e-12).any():  # sitting on a centroid: good enough for a start
            break
        w = weights / d
        c_new = (centres * w[:, None]).sum(0) / w.sum()
        if np.abs(c_new - c).max() < 1e-9 * (1.0 + np.abs(c).max()):
            c = c_new
            break
        c = c_new
    return c


def _medoid_numpy(pts: np.ndarray) -> int:
    n = pts.shape[0]
    if n <= 2:
        return 0  # N=1 trivially; N=2 both sums are the same distance
    if n <= _SMALL_N:
        return int(np.argmin(exact_sums(pts)))
    p = pts.astype(np.float64)
    lo, hi = p.min(0), p.max(0)
    if (lo == hi).all():
        return 0  # every point is the same: all sums are zero

    # 1. grid cells: counts, centroids, bounding boxes
    g = _grid_size(n)
    span = np.where(hi > lo, hi - lo, 1.0)
    cell_xy = np.minimum((((p - lo) / span) * g).astype(np.int64), g - 1)
    key = cell_xy[:, 1] * g + cell_xy[:, 0]
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    counts = np.diff(np.r_[starts, n]).astype(np.float64)
    ps = p[order]
    centroids = np.add.reduceat(ps, starts, axis=0) / counts[:, None]
    box_lo = np.minimum.reduceat(ps, starts, axis=0)
    box_hi = np.maximum.reduceat(ps, starts, axis=0)

    # 2. a good first candidate: the point nearest to the geometric median of the centroids
    c = _weiszfeld(centroids, counts)
    first = int(np.argmin(((p - c) ** 2).sum(1)))
    best_s = float(exact_sums(pts, [first])[0])
    best_i = first

    # 3. cell-level bound: every point of cell b has S >= sum_c n_c * dist(m_c, box_b)
    gap = np.maximum(box_lo[:, None, :] - centroids[None, :, :], 0.0) + \
        np.maximum(centroids[None, :, :] - box_hi[:, None, :], 0.0)
    cell_lb = (np.sqrt((gap ** 2).sum(-1)) * counts[None, :]).sum(1)
    slack = _REL_SLACK * best_s
    live_cells = np.flatnonzero(cell_lb <= best_s + slack)

    # 4. the points of the surviving cells; identical coordinates have identical sums, so only the
    #    lowest index of each location is a candidate
    cand = np.sort(np.concatenate([order[starts[b]:starts[b] + int(counts[b])] for b in live_cells]))
    xy_bits = (pts[cand] + np.float32(0.0)).view(np.uint64).ravel()  # +0.0 folds -0.0 into 0.0
    _, first_pos = np.unique(xy_bits, return_index=True)
    cand = cand[np.sort(first_pos)]

    # 5. point-level bound L(p) = sum_c n_c |p - m_c|, then exact sums in bound order
    lb = np.empty(cand.shape[0], dtype=np.float64)
    step = max(1, _BATCH_ELEMS // centroids.shape[0])
    for s in range(0, cand.shape[0], step):
        q = p[cand[s:s + step]]
        d = np.sqrt(((q[:, None, :] - centroids[None, :, :]) ** 2).sum(-1))
        lb[s:s + step] = d @ counts
    rank = np.lexsort((cand, lb))
    cand, lb = cand[rank], lb[rank]
    pos, batch = 0, 8
    while pos < cand.shape[0] and lb[pos] <= best_s + _REL_SLACK * best_s:
        sel = cand[pos:pos + batch]
        sums = exact_sums(pts, sel)
        for i, s_i in zip(sel.tolist(), sums.tolist()):
            if s_i < best_s or (s_i == best_s and i < best_i):
                best_s, best_i = s_i, i
        pos += batch
        batch = min(batch * 2, 256)
    return best_i


def cuda_available() -> bool:
    """The extension was built with its CUDA kernel and a GPU is visible."""
    ext = load_extension("medoid")
    return bool(ext is not None and getattr(ext, "with_cuda", False) and ext.cuda_device_count() > 0)


def medoid(points, *, use_extension: Optional[bool] = None, device: str = "cpu") -> int:
    """Index of the point with the minimum summed Euclidean distance to all others.

    ``points``: float32 ``[N, 2]`` (N >= 1). Ties go to the lowest index. Uses the compiled
    ``motionseg_trt._C_medoid`` when it was built (``use_extension=False`` forces NumPy);
    ``device="cuda"`` evaluates the exact sums with the extension's CUDA kernel (same answer).
    """
    pts = _as_points(points)
    if device == "cuda":
        if not cuda_available():
            raise RuntimeError("medoid on cuda needs motionseg_trt._C_medoid built with nvcc and a GPU")
        return int(load_extension("medoid").medoid_cuda(pts))
    ext = load_extension("medoid") if use_extension in (None, True) else None
    if use_extension is True and ext is None:
        raise RuntimeError("motionseg_trt._C_medoid is not built")
    if ext is not None:
        return int(ext.medoid(pts))
    return _medoid_numpy(pts)


def medoid_batched(points, visible=None, *, use_extension: Optional[bool] = None) -> np.ndarray:
    """One medoid per frame: ``points`` ``[T, N, 2]``, ``visible`` ``[T, N]`` bool (all when None).

    Returns int64 ``[T]``: the index (into N) of each frame's medoid among its visible points, or -1
    where no point is visible. Ties go to the lowest index.
    """
    pts = np.ascontiguousarray(points, dtype=np.float32)
    if pts.ndim != 3 or pts.shape[2] != 2:
        raise ValueError(f"points must be [T, N, 2], got shape {pts.shape}")
    vis = np.ones(pts.shape[:2], dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    if vis.shape != pts.shape[:2]:
        raise ValueError(f"visible must be {pts.shape[:2]}, got {vis.shape}")
    ext = load_extension("medoid") if use_extension in (None, True) else None
    if use_extension is True and ext is None:
        raise RuntimeError("motionseg_trt._C_medoid is not built")
    if ext is not None:
        return np.asarray(ext.medoid_batched(pts, np.ascontiguousarray(vis, dtype=np.uint8)),
                          dtype=np.int64)
    out = np.full(pts.shape[0], -1, dtype=np.int64)
    for t in range(pts.shape[0]):
        idx = np.flatnonzero(vis[t])
        if idx.size:
            # the subset keeps index order, so "lowest index" ties carry over to the full set
            out[t] = idx[_medoid_numpy(_as_points(pts[t, idx]))]
    return out


def prompt_points(points, *, use_extension: Optional[bool] = None) -> np.ndarray:
    """The re-prompt selection of Stage 2: the point nearest to the centroid, then the two points
    farthest from the centroid (farthest first), never repeating the nearest one.

    Returns int64 indices (1, 2 or 3 of them for N = 1, 2, >= 3). Ties go to the lowest index. The
    centroid is the sequential float64 mean, distances are float64 (same arithmetic in C++).
    """
    pts = _as_points(points)
    ext = load_extension("medoid") if use_extension in (None, True) else None
    if use_extension is True and ext is None:
        raise RuntimeError("motionseg_trt._C_medoid is not built")
    if ext is not None:
        return np.asarray(ext.prompt_points(pts), dtype=np.int64)
    p = pts.astype(np.float64)
    n = p.shape[0]
    cx = np.cumsum(p[:, 0])[-1] / n
    cy = np.cumsum(p[:, 1])[-1] / n
    dx, dy = p[:, 0] - cx, p[:, 1] - cy
    dist = np.sqrt(dx * dx + dy * dy)
    nearest = int(np.argmin(dist))
    rest = np.delete(np.arange(n), nearest)
    far = rest[np.lexsort((rest, -dist[rest]))][:2]  # by distance descending, then index ascending
    return np.r_[nearest, far].astype(np.int64)
