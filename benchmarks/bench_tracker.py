"""Latency of the BootsTAPIR tracker's two graphs per backend: PyTorch vs ONNX Runtime (the graphs of
``export/tracker.py``), and on CUDA PyTorch fp16.

    python benchmarks/bench_tracker.py --frames 10 --window 8 --queries 64 --repeats 3     # CPU
    python benchmarks/bench_tracker.py --device cuda --fp16 --window 32 --queries 256 --repeats 20

Parts timed, each per call in ms (mean, p50, p90, p99) after ``--warmup`` calls:

* ``features``: one chunk of ``--frames`` 256x256 frames through the ResNet + extra convs;
* ``track``: one chunk of ``--queries`` queries (the exported graph's fixed size) over a window of
  ``--window`` frames (cost volume, soft-argmax, 4 PIPs iterations);
* ``window``: derived, the cost of one streaming window of ``--window`` frames with ``--tracks``
  tracks = features for the ``--stride`` new frames + ceil(tracks / queries) track calls.

Random weights (latency does not depend on the values). ONNX Runtime runs with ``--threads``
intra-op threads (CPU provider unless ``--providers`` names others).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_table, latency_stats, machine_info, time_calls  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--fp16", action="store_true", help="also time PyTorch fp16 (CUDA only)")
    ap.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    ap.add_argument("--providers", nargs="+", default=None, help="ONNX Runtime providers (default: cpu)")
    ap.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime intra-op threads")
    ap.add_argument("--frames", type=int, default=10, help="frames per features call")
    ap.add_argument("--window", type=int, default=16, help="frames per track call")
    ap.add_argument("--stride", type=int, default=8, help="new frames per streaming window")
    ap.add_argument("--queries", type=int, default=64, help="queries per track call")
    ap.add_argument("--tracks", type=int, default=5000, help="tracks per window (for the derived row)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--onnx-dir", default=None, help="reuse / keep the exported graphs here")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch

    from motionseg_trt.config import RunConfig
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine
    from motionseg_trt.tracks.bootstapir.modeling import build_bootstapir
    from motionseg_trt.tracks.bootstapir.predictor import tracker_network

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_bootstapir().eval()
    rng = np.random.default_rng(0)
    frames = rng.uniform(-1, 1, (args.frames, 256, 256, 3)).astype(np.float32)
    win_frames = rng.uniform(-1, 1, (args.window, 256, 256, 3)).astype(np.float32)
    queries = np.concatenate([rng.integers(0, args.window, (args.queries, 1)),
                              rng.uniform(0, 255, (args.queries, 2))], 1).astype(np.float32)
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    tmp = None
    onnx_dir = args.onnx_dir or (tmp := tempfile.mkdtemp(prefix="bench_tracker_"))

    def engine(backend, fp16=False):
        """The tracker's two graphs on ``backend``, through the runtime layer as a run uses them."""
        extra = {"tracker_query_chunk": args.queries, "tracker_frame_chunk": args.frames}
        if args.providers:
            extra["ort_providers"] = args.providers
        config = RunConfig(backend=backend, device=args.device, fp16=fp16, threads=args.threads,
                           engine_cache=onnx_dir, extra=extra)
        network = tracker_network(config, lambda: model, "bench-random0")
        return TapirEngine.on_backend(config, network, args.queries, args.frames, log=lambda m: None)

    engines = []
    if "torch" in args.backends:
        engines.append(("torch fp32", engine("torch")))
        if args.fp16 and cuda:
            engines.append(("torch fp16 (autocast)", engine("torch", fp16=True)))
    if "onnxruntime" in args.backends:
        t0 = time.perf_counter()
        ort_engine = engine("onnxruntime")
        print(f"export + session load: {time.perf_counter() - t0:.1f} s ({onnx_dir})", file=sys.stderr)
        engines.append((f"onnxruntime ({','.join(args.providers or ['cpu'])})", ort_engine))

    rows = []
    for label, eng in engines:
        feat = latency_stats(time_calls(lambda: eng.features(frames), args.warmup, args.repeats, sync))
        hires, lowres = eng.features(win_frames)
        trk = latency_stats(time_calls(lambda: eng.track(hires, lowres, queries), args.warmup, args.repeats, sync))
        per_frame = feat["mean"] / args.frames
        calls = math.ceil(args.tracks / args.queries)
        window_ms = per_frame * args.stride + trk["mean"] * calls
        rows.append({"backend": label, "part": f"features x{args.frames}", **feat,
                     "per_unit": per_frame, "unit": "ms/frame"})
        rows.append({"backend": label, "part": f"track {args.queries}q x {args.window}f", **trk,
                     "per_unit": trk["mean"] / args.queries, "unit": "ms/query"})
        rows.append({"backend": label, "part": f"window ({args.stride} new f, {args.tracks} tracks)",
                     "mean": window_ms, "per_unit": window_ms / args.stride, "unit": "ms/new frame"})
        print(f"{label}: done", file=sys.stderr)

    cols = [("backend", "backend", ""), ("part", "part", ""), ("mean", "mean ms", "{:.1f}"),
            ("p50", "p50", "{:.1f}"), ("p90", "p90", "{:.1f}"), ("p99", "p99", "{:.1f}"),
            ("per_unit", "per unit", "{:.2f}"), ("unit", "unit", "")]
    print(format_table(rows, cols))
    result = {"machine": machine_info(), "args": vars(args), "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
