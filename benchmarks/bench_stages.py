"""Per-stage and end-to-end speed of the engine on a generated clip, per backend and precision.

    python benchmarks/bench_stages.py --models official --backend onnxruntime --random-weights \\
        --height 480 --width 854 --frames 64 --window 32 --stride 16 --json out.json
    python benchmarks/bench_stages.py --models official --random-weights --device cuda \\
        --compare backend=torch,fp16=true backend=onnxruntime

Stages are timed per window (tracks, features, motion, masks; decoding and writing are left out: the
clip is generated in memory). Latency statistics are per window (mean, p50, p90, p99 in ms, as
trtexec reports them); FPS is frames emitted / seconds spent. The first ``--warmup`` windows are
excluded from the statistics (graph export, session and engine creation happen there) and reported
as ``cold_ms``. Memory: peak RSS sampled after every stage call, and PyTorch's CUDA peak (TensorRT
and ONNX Runtime allocate outside PyTorch: see nvidia-smi for those). ``--compare A B`` runs two
configurations on the same clip in one process and prints their ratios (B relative to A).

``--random-weights`` measures speed with random weights of the right shapes (speed does not depend
on the weight values); without it the official weights must have been downloaded.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (cuda_peak_mb, cuda_reset_peak, cuda_sync, format_table, latency_stats,  # noqa: E402
                    machine_info, peak_rss_mb, rss_mb, synthetic_clip)

STAGES = ("tracks", "features", "motion", "masks")


def windows_of(frames: np.ndarray, window: int, stride: int):
    """FrameWindows over an in-memory clip, as the engine's streaming reader cuts them."""
    from motionseg_trt.contracts import FrameWindow

    T = len(frames)
    if window >= T:
        yield FrameWindow(0, 0, frames, 0, True)
        return
    starts = list(range(0, T - window + 1, stride))
    if starts[-1] + window < T:
        starts.append(T - window)
    prev_end = 0
    for i, s in enumerate(starts):
        emit_from = max(0, prev_end - s)
        yield FrameWindow(i, s, frames[s:s + window], emit_from, i == len(starts) - 1)
        prev_end = s + window


def make_config(args, overrides: dict):
    from motionseg_trt.config import RunConfig
    from motionseg_trt.stages import default_stage

    extra = {"random_weights": args.random_weights}
    extra.update(args.extra)
    # the model set's stages, as `motionseg-trt run --models` picks them
    base = RunConfig(models=args.models, backend=args.backend, fp16=args.fp16, device=args.device,
                     window=args.window, stride=args.stride, engine_cache=args.engine_cache,
                     weights_dir=args.weights_dir, tracker=default_stage("tracker", args.models),
                     motion_model=args.motion_model or default_stage("labeller", args.models),
                     densifier=default_stage("densifier", args.models), threads=args.threads, extra=extra)
    fields = {f.name for f in dataclasses.fields(base)}
    extra = dict(base.extra)
    direct = {}
    for k, v in overrides.items():
        (direct if k in fields else extra).__setitem__(k, v)
    return dataclasses.replace(base, extra=extra, **direct)


def run_config(config, frames: np.ndarray, warmup: int, label: str) -> dict:
    from motionseg_trt.stages import build_stages

    cuda_reset_peak()
    t_build = time.perf_counter()
    stages = build_stages(config)
    build_s = time.perf_counter() - t_build
    per_stage = {s: [] for s in STAGES}
    emitted = []
    rss_peak = rss_mb()
    for w in windows_of(frames, config.window, config.stride):
        times = {}
        t = time.perf_counter()
        tracks = stages.tracker.track(w)
        cuda_sync()
        times["tracks"] = time.perf_counter() - t
        rss_peak = max(rss_peak, rss_mb())
        t = time.perf_counter()
        feats = stages.features.extract(w, tracks)
        cuda_sync()
        times["features"] = time.perf_counter() - t
        rss_peak = max(rss_peak, rss_mb())
        t = time.perf_counter()
        labels = stages.labeller.label(w, tracks, feats)
        cuda_sync()
        times["motion"] = time.perf_counter() - t
        rss_peak = max(rss_peak, rss_mb())
        t = time.perf_counter()
        stages.densifier.densify(w, tracks, labels)
        cuda_sync()
        times["masks"] = time.perf_counter() - t
        rss_peak = max(rss_peak, rss_mb())
        for s in STAGES:
            per_stage[s].append(times[s] * 1000.0)
        emitted.append(len(w.emit_range))
        print(f"  [{label}] window {w.index}: {len(w.emit_range)} frames, "
              + ", ".join(f"{s} {times[s] * 1000:.0f} ms" for s in STAGES), file=sys.stderr)
    n = len(emitted)
    skip = min(warmup, max(0, n - 1))  # keep at least one measured window
    frames_measured = sum(emitted[skip:])
    result = {"label": label, "config": _config_summary(config), "windows": n, "warmup_windows": skip,
              "frames_measured": frames_measured, "stage_build_s": build_s, "stages": {}}
    total_ms = np.zeros(n - skip)
    for s in STAGES:
        ms = per_stage[s][skip:]
        total_ms += np.asarray(ms)
        secs = sum(ms) / 1000.0
        result["stages"][s] = {**latency_stats(ms), "fps": frames_measured / secs if secs > 0 else None,
                               "cold_ms": per_stage[s][0]}
    e2e_s = float(total_ms.sum()) / 1000.0
    result["end_to_end"] = {**latency_stats(total_ms), "fps": frames_measured / e2e_s if e2e_s > 0 else None,
                            "cold_ms": float(sum(per_stage[s][0] for s in STAGES))}
    result["memory"] = {"rss_peak_mb": rss_peak, "process_maxrss_mb": peak_rss_mb(), "cuda_peak_mb": cuda_peak_mb()}
    return result


def _config_summary(config) -> dict:
    keys = ("models", "backend", "fp16", "device", "window", "stride", "tracker", "motion_model", "densifier")
    d = {k: getattr(config, k) for k in keys}
    d["extra"] = dict(config.extra)
    return d


def table(result: dict) -> str:
    rows = [{"stage": s, **result["stages"][s]} for s in STAGES]
    rows.append({"stage": "end to end", **result["end_to_end"]})
    cols = [("stage", "stage", ""), ("fps", "fps", "{:.2f}"), ("mean", "mean ms", "{:.1f}"), ("p50", "p50", "{:.1f}"),
            ("p90", "p90", "{:.1f}"), ("p99", "p99", "{:.1f}"), ("cold_ms", "cold ms", "{:.0f}")]
    c = result["config"]
    head = (f"{result['label']}: models={c['models']} backend={c['backend']} fp16={c['fp16']} device={c['device']} "
            f"window={c['window']} stride={c['stride']}; {result['frames_measured']} frames measured "
            f"({result['warmup_windows']} warm-up window(s) excluded)")
    mem = result["memory"]
    foot = (f"peak RSS {mem['rss_peak_mb']:.0f} MB (process max {mem['process_maxrss_mb']:.0f} MB)"
            + (f", CUDA peak (PyTorch allocator) {mem['cuda_peak_mb']:.0f} MB" if mem["cuda_peak_mb"] is not None else ""))
    return "\n".join([head, format_table(rows, cols), foot])


def ratio_table(a: dict, b: dict) -> str:
    rows = []
    for s in STAGES + ("end to end",):
        ra = a["end_to_end"] if s == "end to end" else a["stages"][s]
        rb = b["end_to_end"] if s == "end to end" else b["stages"][s]
        speed = (ra["mean"] / rb["mean"]) if ra.get("mean") and rb.get("mean") else None
        rows.append({"stage": s, "a": ra.get("mean"), "b": rb.get("mean"), "speedup": speed})
    cols = [("stage", "stage", ""), ("a", f"{a['label']} ms", "{:.1f}"), ("b", f"{b['label']} ms", "{:.1f}"),
            ("speedup", f"{b['label']} speed-up", "{:.2f}x")]
    return format_table(rows, cols)


def parse_overrides(text: str) -> dict:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        if "=" not in item:
            raise SystemExit(f"--compare expects key=value[,key=value], got {item!r}")
        k, v = item.split("=", 1)
        low = v.lower()
        if low in ("true", "false"):
            out[k] = low == "true"
        else:
            try:
                out[k] = int(v)
            except ValueError:
                out[k] = v
    return out


def main(argv=None) -> int:
    from motionseg_trt.runtime.backends import backend_names
    from motionseg_trt.stages import model_sets, names

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", choices=model_sets(), default="official")
    p.add_argument("--backend", choices=backend_names(), default="onnxruntime")
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--motion-model", choices=names("labeller"), default=None,
                   help="default: the model set's (geometric for embedded, official for official)")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--frames", type=int, default=64, help="clip length")
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--stride", type=int, default=16)
    p.add_argument("--warmup", type=int, default=1, help="windows excluded from the statistics")
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--weights-dir")
    p.add_argument("--engine-cache")
    p.add_argument("--threads", type=int)
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="stage option (RunConfig.extra), e.g. dino_variant=vits14")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="two sets of overrides (key=value,...) run one after the other in this process")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    args.extra = {}
    for item in args.option:
        args.extra.update(parse_overrides(item))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    frames = synthetic_clip(args.frames, args.height, args.width)
    runs = [("A", parse_overrides(args.compare[0])), ("B", parse_overrides(args.compare[1]))] if args.compare \
        else [("run", {})]
    results = []
    for label, overrides in runs:
        if args.compare:
            label = args.compare[0 if label == "A" else 1]
        results.append(run_config(make_config(args, overrides), frames, args.warmup, label))
        print(table(results[-1]))
        print()
    if len(results) == 2:
        print(ratio_table(*results))
    out = {"machine": machine_info(), "clip": {"frames": args.frames, "height": args.height, "width": args.width},
           "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
