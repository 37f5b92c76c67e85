"""Speed of the exact medoid search (SAM2 prompt selection) vs the all-pairs search.

    python benchmarks/bench_medoid.py                    # N = 1k, 10k, 50k; C++, NumPy fallback, CUDA
    python benchmarks/bench_medoid.py --sizes 1000 10000 --repeats 5 --json out.json

Baseline: all-pairs NumPy (what the official code's ``NearestNeighbors`` / ``kneighbors`` on every
point amounts to): ``argmin_i sum_j |p_i - p_j|`` over [chunk, N] blocks; also SciPy's compiled
``cdist`` doing the same all-pairs work (a stronger baseline). Every run also checks that the
fast paths return the baseline's index (exactness), on three point sets per size: Gaussian blob
(tracks on one object), uniform, and clustered (several objects). Times are the median of
``--repeats`` calls, after one warm-up; the ratio is baseline / method measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_table, machine_info  # noqa: E402


def allpairs_numpy(points: np.ndarray, rows: int | None = None, chunk_elems: int = 1 << 22) -> int:
    """argmin of the summed distances over all pairs; ``rows`` limits the work to the first rows
    (used to time the baseline on a sample when the full O(N^2) run is too long)."""
    p = points.astype(np.float64)
    n = p.shape[0]
    m = n if rows is None else min(rows, n)
    sums = np.empty(m)
    step = max(1, chunk_elems // n)
    for s in range(0, m, step):
        d = np.sqrt(((p[s:min(s + step, m), None, :] - p[None, :, :]) ** 2).sum(-1))
        sums[s:s + step] = d.sum(1)
    return int(np.argmin(sums))


def allpairs_cdist(points: np.ndarray, chunk_rows: int = 2048) -> int:
    """The same search with SciPy's compiled pairwise distances (a stronger all-pairs baseline)."""
    from scipy.spatial.distance import cdist

    p = points.astype(np.float64)
    sums = np.concatenate([cdist(p[s:s + chunk_rows], p).sum(1) for s in range(0, p.shape[0], chunk_rows)])
    return int(np.argmin(sums))


def point_sets(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.random((5, 2)) * [854, 480]
    lab = rng.integers(0, 5, n)
    return {
        "blob": (rng.normal(size=(n, 2)) * 60 + [427, 240]).astype(np.float32),
        "uniform": (rng.random((n, 2)) * [854, 480]).astype(np.float32),
        "clustered": (centres[lab] + rng.normal(size=(n, 2)) * 25).astype(np.float32),
    }


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up (and the answer)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full-baseline-max", type=int, default=20000,
                    help="above this N the all-pairs time is extrapolated from a 2000-row sample and "
                         "exactness is checked against the NumPy fallback only")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from motionseg_trt.ops import medoid as medoid_fn
    from motionseg_trt.ops._ext import load_extension
    from motionseg_trt.ops.medoid_search import cuda_available

    methods = {"numpy-fallback": lambda p: medoid_fn(p, use_extension=False)}
    if load_extension("medoid") is not None:
        methods["cpp-extension"] = lambda p: medoid_fn(p, use_extension=True)
    if cuda_available():
        methods["cuda-kernel"] = lambda p: medoid_fn(p, device="cuda")

    rows = []
    for n in args.sizes:
        for kind, pts in point_sets(n).items():
            full = n <= args.full_baseline_max
            cdist_ms = None
            if full:
                base_ms, want = timed(lambda: allpairs_numpy(pts), 1)
                cdist_ms, _ = timed(lambda: allpairs_cdist(pts), 1)
                ref = "all-pairs"
            else:
                sample = 2000
                base_ms, _ = timed(lambda: allpairs_numpy(pts, rows=sample), 1)
                base_ms *= n / sample  # every row costs the same: O(N) each
                want = medoid_fn(pts, use_extension=False)
                ref = "fallback (baseline extrapolated)"
            for name, fn in methods.items():
                ms, got = timed(lambda: fn(pts), args.repeats)
                rows.append({"N": n, "set": kind, "method": name, "ms": ms, "allpairs_ms": base_ms,
                             "speedup": base_ms / ms, "cdist_ms": cdist_ms,
                             "speedup_vs_cdist": cdist_ms / ms if cdist_ms else None,
                             "exact": bool(got == want), "checked_against": ref})
    print(format_table(rows, [("N", "N", "{}"), ("set", "points", ""), ("method", "method", ""),
                              ("ms", "ms", "{:.2f}"), ("allpairs_ms", "all-pairs ms", "{:.1f}"),
                              ("speedup", "x faster", "{:.1f}"), ("cdist_ms", "cdist ms", "{:.1f}"),
                              ("speedup_vs_cdist", "x vs cdist", "{:.1f}"), ("exact", "exact", ""),
                              ("checked_against", "answer checked against", "")]))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_info(), "rows": rows}, indent=2))
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
