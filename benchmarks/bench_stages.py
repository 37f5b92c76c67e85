"""Per-stage and end-to-end speed of the engine on a clip (generated, or ``--input``), per backend and
precision.

    python benchmarks/bench_stages.py --models official --backend onnxruntime --random-weights \\
        --height 480 --width 854 --frames 64 --window 32 --stride 16 --json out.json
    python benchmarks/bench_stages.py --models embedded --input clip.mp4 --frames 200
    python benchmarks/bench_stages.py --models official --random-weights --device cuda \\
        --compare backend=torch,fp16=true backend=onnxruntime

The clip is a generated one (a textured pan with two moving squares, ``--height``/``--width``/
``--frames``), or ``--input CLIP``: any video or frame folder the engine reads, decoded at the engine's
working resolution (``--max-side``) into memory first, at most ``--frames`` frames of it. Stages are
timed per window (tracks, features, motion, masks; decoding and writing are left out). Two latencies
are reported, each as min / mean / p50 / p90 / p99 / max in ms (as trtexec reports them):

* **per window**: one call of the stage on a window of ``--window`` frames (it emits its newest
  ``--stride`` frames; the first window emits all of its frames);
* **per frame**: a window's time divided by the frames it emits: the compute each output frame costs.

FPS is frames emitted / seconds spent. A stage that does nothing (the embedded set's features stage
returns empty features) takes a few microseconds per window: when its mean is under ``NOOP_MS`` per
window it is shown as ``no-op`` (``"no_op": true, "fps": null`` in the JSON), not as a million fps.
The first ``--warmup`` windows are excluded from the statistics (graph export, session and engine
creation happen there) and reported as ``cold_ms``. Memory: peak RSS sampled after every stage call,
and PyTorch's CUDA peak (TensorRT and ONNX Runtime allocate outside PyTorch: see nvidia-smi for those).
``--compare A B`` runs two configurations on the same clip in one process and prints their ratios
(B relative to A).

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
from motionseg_trt.errors import InputError, MotionSegError  # noqa: E402
from common import (cuda_peak_mb, cuda_reset_peak, cuda_sync, format_table, latency_stats,  # noqa: E402
                    machine_info, peak_rss_mb, rss_mb, synthetic_clip)

STAGES = ("tracks", "features", "motion", "masks")
NOOP_MS = 0.05  # a stage whose windows take less than this on average (50 us) does no work


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


def load_clip(args) -> tuple[np.ndarray, dict]:
    """The frames to time, uint8 RGB [T, H, W, 3], and a description of them for the JSON."""
    if not args.input:
        frames = synthetic_clip(args.frames or 64, args.height or 480, args.width or 854)
        return frames, {"input": "generated", "frames": len(frames), "height": frames.shape[1],
                        "width": frames.shape[2]}
    from motionseg_trt.io.decode import open_frames

    frames = []
    with open_frames(args.input, max_side=args.max_side) as reader:
        info = reader.info
        for frame in reader:
            frames.append(frame)
            if args.frames and len(frames) >= args.frames:
                break
    if not frames:
        raise InputError(f"no frames decoded from {args.input}")
    clip = np.stack(frames)
    return clip, {"input": args.input, "frames": len(clip), "height": clip.shape[1], "width": clip.shape[2],
                  "input_height": info.height, "input_width": info.width}


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
    frames = emitted[skip:]
    result = {"label": label, "config": _config_summary(config), "windows": n, "warmup_windows": skip,
              "frames_measured": sum(frames), "stage_build_s": build_s, "stages": {}}
    for s in STAGES:
        result["stages"][s] = stage_stats(per_stage[s][skip:], frames, per_stage[s][0])
    total = [sum(per_stage[s][i] for s in STAGES) for i in range(n)]
    result["end_to_end"] = stage_stats(total[skip:], frames, total[0], can_be_no_op=False)
    result["memory"] = {"rss_peak_mb": rss_peak, "process_maxrss_mb": peak_rss_mb(), "cuda_peak_mb": cuda_peak_mb()}
    return result


def stage_stats(window_ms, frames_per_window, cold_ms: float, can_be_no_op: bool = True) -> dict:
    """Latency per window and per emitted frame (trtexec-style statistics), fps, and whether the stage
    is a no-op (mean under ``NOOP_MS`` per window: then ``fps`` is None)."""
    window_ms = np.asarray(window_ms, np.float64)
    frames = np.asarray(frames_per_window, np.float64)
    emits = frames > 0
    no_op = bool(can_be_no_op and window_ms.size and window_ms.mean() < NOOP_MS)
    seconds = float(window_ms.sum()) / 1000.0
    return {"per_window_ms": latency_stats(window_ms), "per_frame_ms": latency_stats(window_ms[emits] / frames[emits]),
            "fps": None if no_op or seconds <= 0 else float(frames.sum()) / seconds, "no_op": no_op,
            "cold_ms": float(cold_ms)}


def _config_summary(config) -> dict:
    keys = ("models", "backend", "fp16", "device", "window", "stride", "tracker", "motion_model", "densifier")
    d = {k: getattr(config, k) for k in keys}
    d["extra"] = dict(config.extra)
    return d


LATENCY_COLUMNS = ("min", "mean", "p50", "p90", "p99", "max")


def _latency_rows(result: dict, key: str, extra) -> list[dict]:
    rows = []
    for name, r in [(s, result["stages"][s]) for s in STAGES] + [("end to end", result["end_to_end"])]:
        row = {"stage": name, **extra(r)}
        stats = r[key]
        for c in LATENCY_COLUMNS:
            row[c] = "-" if r["no_op"] or c not in stats else _ms(stats[c])
        rows.append(row)
    return rows


def table(result: dict) -> str:
    c = result["config"]
    measured = result["windows"] - result["warmup_windows"]
    head = (f"{result['label']}: models={c['models']} backend={c['backend']} fp16={c['fp16']} device={c['device']} "
            f"window={c['window']} stride={c['stride']}; {result['frames_measured']} frames in "
            f"{measured} window{'' if measured == 1 else 's'} measured "
            f"({result['warmup_windows']} warm-up window(s) excluded)")
    lat = [(k, k, "") for k in LATENCY_COLUMNS]
    per_frame = _latency_rows(result, "per_frame_ms",
                              lambda r: {"fps": "no-op" if r["no_op"] else _num(r["fps"], "{:.2f}")})
    per_window = _latency_rows(result, "per_window_ms", lambda r: {"cold": f"{r['cold_ms']:.0f}"})
    mem = result["memory"]
    foot = (f"peak RSS {mem['rss_peak_mb']:.0f} MB (process max {mem['process_maxrss_mb']:.0f} MB)"
            + (f", CUDA peak (PyTorch allocator) {mem['cuda_peak_mb']:.0f} MB" if mem["cuda_peak_mb"] is not None else ""))
    return "\n".join([
        head,
        "latency per frame, ms (a window's time / the new frames it emits):",
        format_table(per_frame, [("stage", "stage", ""), ("fps", "fps", "")] + lat),
        f"latency per window, ms (one stage call on {c['window']} frames; each window emits its newest "
        f"{c['stride']}, the first all of them):",
        format_table(per_window, [("stage", "stage", "")] + lat + [("cold", "cold ms", "")]),
        f"no-op: under {NOOP_MS * 1000:.0f} us per window on average (the stage does no work)",
        foot])


def _ms(value: float) -> str:
    """Milliseconds with about three significant digits (GPU stages take hundredths of a ms per frame)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _num(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def ratio_table(a: dict, b: dict) -> str:
    rows = []
    for s in STAGES + ("end to end",):
        ra = a["end_to_end"] if s == "end to end" else a["stages"][s]
        rb = b["end_to_end"] if s == "end to end" else b["stages"][s]
        ma, mb = ra["per_frame_ms"].get("mean"), rb["per_frame_ms"].get("mean")
        no_op = ra["no_op"] or rb["no_op"]
        speed = ma / mb if ma and mb and not no_op else None
        rows.append({"stage": s, "a": "no-op" if ra["no_op"] else _num(ma, "{:.2f}"),
                     "b": "no-op" if rb["no_op"] else _num(mb, "{:.2f}"), "speedup": _num(speed, "{:.2f}x")})
    cols = [("stage", "stage", ""), ("a", f"{a['label']} ms/frame", ""), ("b", f"{b['label']} ms/frame", ""),
            ("speedup", f"{b['label']} speed-up", "")]
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
    p.add_argument("--input", metavar="CLIP", help="a video or frame folder (default: a generated clip)")
    p.add_argument("--max-side", type=int, default=960, help="--input's working resolution, as `run --max-side`")
    p.add_argument("--height", type=int, help="generated clip's height (default 480)")
    p.add_argument("--width", type=int, help="generated clip's width (default 854)")
    p.add_argument("--frames", type=int,
                   help="generated clip's length (default 64), or at most this many frames of --input (default all)")
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
    if args.input and (args.height or args.width):
        p.error("--height/--width shape the generated clip; --input is used at its own size (see --max-side)")
    args.extra = {}
    for item in args.option:
        args.extra.update(parse_overrides(item))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    try:
        frames, clip = load_clip(args)
    except MotionSegError as exc:
        print(f"bench_stages: error: {exc}", file=sys.stderr)
        return exc.exit_code
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
    out = {"machine": machine_info(), "clip": clip, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
