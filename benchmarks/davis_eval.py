r"""Accuracy (J, F, J&F) and speed of the engine on a folder of ``<seq>/{clip.mp4, masks/*.png}``.

    python benchmarks/davis_eval.py [DATA] [--seqs bear,boat] [--max-frames 40] [--jobs 2] \
        [--motion-model geometric] [--densifier embedded|embedded-v1|embedded-v2] [--offline] \
        [--window 32 --stride 16] [--overlay] [--direct] [--skip-first-last] [--json out.json] \
        [--set key=value ...]

Each clip goes through the product itself (``run_pipeline``: decode, stages, writers; the overlay
video only with ``--overlay``), and the written ``masks/*.png`` are scored. ``--direct`` calls the
stages without writers instead (quicker when tuning). ``--max-frames N`` feeds the first N frames
(as a PNG folder, lossless) instead of the whole clip.

DAVIS protocol for moving-object segmentation, scored by ``motionseg_trt.evaluation`` (the scorer of
``motionseg-trt eval``): predictions are binarised (> 0); J is the IoU (1 when both are empty), F the
boundary F-measure (seg2bmap boundaries, bound_th 0.008); means over frames, then over sequences; every
frame is scored unless ``--skip-first-last``.
Speed: frames per second of the whole run per sequence, and milliseconds per frame of each stage;
with ``--jobs`` > 1 sequences run in parallel and share the CPU, so fps is per process.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.metrics import frame_scores  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis16-dev"


def _config(args, seq_dir: Path):
    from motionseg_trt.config import RunConfig

    extra = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        extra[key] = value
    densifier = args.densifier
    if densifier.startswith("embedded-"):
        extra.setdefault("densifier_version", densifier.split("-", 1)[1])
        densifier = "embedded"
    return RunConfig(input=str(seq_dir / "clip.mp4"), window=args.window, stride=args.stride,
                     offline=args.offline, motion_model=args.motion_model, densifier=densifier,
                     write_overlay=False, progress=False, threads=1, extra=extra)


def _first_frames_folder(clip: str, limit: int, folder: Path) -> str:
    import av

    folder.mkdir(parents=True, exist_ok=True)
    with av.open(clip) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= limit:
                break
            cv2.imwrite(str(folder / f"{i:05d}.png"), frame.to_ndarray(format="bgr24"))
    return str(folder)


def run_product(seq_dir: Path, args) -> tuple[list[np.ndarray], dict, float]:
    """``run_pipeline`` on the clip into a temporary folder; returns the written masks and timings."""
    import tempfile

    from PIL import Image

    from motionseg_trt.pipeline import run_pipeline

    config = _config(args, seq_dir)
    config.write_overlay = bool(args.overlay)
    with tempfile.TemporaryDirectory(prefix="davis_eval_") as tmp:
        if args.max_frames:
            config.input = _first_frames_folder(config.input, args.max_frames, Path(tmp) / "frames")
        config.out = str(Path(tmp) / "out")
        summary = run_pipeline(config)
        files = sorted((Path(tmp) / "out" / "masks").glob("*.png"))
        preds = [np.asarray(Image.open(f)) for f in files]
    seconds = summary["seconds"]
    stages = {k: float(seconds.get(k, 0.0)) for k in ("decode", "tracks", "features", "motion", "masks", "write")}
    return preds, stages, float(seconds["total"])


def count_objects(preds: list) -> int:
    """Distinct object ids in the written masks (the ghosts of issue 18 show up here)."""
    ids: set = set()
    for p in preds:
        ids.update(np.unique(p).tolist())
    ids.discard(0)
    return len(ids)


def run_sequence(seq_dir: Path, args) -> dict:
    """One clip through the engine, scored against its ground truth."""
    cv2.setNumThreads(1)
    gt_files = sorted((seq_dir / "masks").glob("*.png"))
    limit = min(len(gt_files), args.max_frames or len(gt_files))
    if not args.direct:
        preds, timings, elapsed = run_product(seq_dir, args)
        return _score(seq_dir.name, preds, gt_files, limit, timings, elapsed, args.skip_first_last)
    preds, timings, elapsed = run_direct(seq_dir, args, limit)
    return _score(seq_dir.name, preds, gt_files, limit, timings, elapsed, args.skip_first_last)


def run_direct(seq_dir: Path, args, limit: int) -> tuple[list[np.ndarray], dict, float]:
    """The stages called one after the other (no writers), window by window."""
    from motionseg_trt.io.decode import open_frames
    from motionseg_trt.io.windows import VideoSource

    from motionseg_trt.stages import build_stages

    config = _config(args, seq_dir)
    tracker, features, labeller, densifier = build_stages(config)
    timings = {"decode": 0.0, "tracks": 0.0, "features": 0.0, "motion": 0.0, "masks": 0.0}
    preds: list[np.ndarray] = []
    t_all = time.perf_counter()
    reader = open_frames(config.input, max_side=config.max_side, threads=1)
    source = VideoSource(reader, window=config.window, stride=config.stride, offline=config.offline)
    frames_iter = iter(source)
    while True:
        t0 = time.perf_counter()
        window = next(frames_iter, None)
        timings["decode"] += time.perf_counter() - t0
        if window is None:
            break
        if window.start + window.emit_from >= limit:
            break
        if window.start + window.length > limit:  # --max-frames: cut the clip short
            from motionseg_trt.contracts import FrameWindow

            keep = limit - window.start
            window = FrameWindow(window.index, window.start, window.frames[:keep], window.emit_from, True)
        t0 = time.perf_counter()
        tracks = tracker.track(window)
        t1 = time.perf_counter()
        feats = features.extract(window, tracks)
        t15 = time.perf_counter()
        labels = labeller.label(window, tracks, feats)
        t2 = time.perf_counter()
        masks = densifier.densify(window, tracks, labels)
        t3 = time.perf_counter()
        timings["tracks"] += t1 - t0
        timings["features"] += t15 - t1
        timings["motion"] += t2 - t15
        timings["masks"] += t3 - t2
        preds.extend(list(masks.labels))
    reader.close()
    return preds, timings, time.perf_counter() - t_all


def _score(name: str, preds: list, gt_files: list, limit: int, timings: dict, elapsed: float,
           skip_first_last: bool = False) -> dict:
    """J and F by the package's scorer (``motionseg-trt eval``'s); predictions at another size than the
    ground truth (``--direct`` at a working resolution) are scaled to it first (nearest neighbour)."""
    from motionseg_trt.evaluation import frames_to_score
    from motionseg_trt.evaluation.folders import read_mask

    js, fs = [], []
    preds = preds[:limit]
    for i in frames_to_score(len(preds), skip_first_last):
        pred, gt = preds[i], read_mask(gt_files[i])
        if pred.shape != gt.shape:
            pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST)
        j, f = frame_scores(pred, gt)
        js.append(j)
        fs.append(f)
    n = len(js)
    j, f = float(np.mean(js)), float(np.mean(fs))
    if len(preds) < limit:
        print(f"warning: {name}: {len(preds)} predicted frames for {limit} ground-truth frames", file=sys.stderr)
    return {"seq": name, "frames": n, "J": j, "F": f, "JF": (j + f) / 2, "objects": count_objects(preds),
            "fps": n / elapsed,
            "seconds": elapsed, "stage_ms_per_frame": {k: 1000 * v / max(n, 1) for k, v in timings.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--seqs", default="", help="comma-separated sequence names (default: all)")
    parser.add_argument("--max-frames", type=int, default=0, help="evaluate only the first N frames")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--motion-model", default="geometric")
    parser.add_argument("--densifier", default="embedded", help="embedded | embedded-v1 | embedded-v2")
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--overlay", action="store_true", help="also write overlay.mp4 (timed as 'write')")
    parser.add_argument("--direct", action="store_true", help="call the stages directly, no writers")
    parser.add_argument("--skip-first-last", action="store_true",
                        help="leave out each sequence's first and last frame (the DAVIS-2016 toolkit's way)")
    parser.add_argument("--json", default="", help="write the results here")
    parser.add_argument("--set", action="append", help="stage option key=value (RunConfig.extra)")
    args = parser.parse_args(argv)

    data = Path(args.data)
    if not data.is_dir():
        print(f"error: no data folder {data}", file=sys.stderr)
        return 3
    seqs = [s for s in args.seqs.split(",") if s] or sorted(p.name for p in data.iterdir() if (p / "clip.mp4").exists())
    dirs = [data / s for s in seqs]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_sequence, dirs, [args] * len(dirs)))
    else:
        results = [run_sequence(d, args) for d in dirs]
    names = list(results[0]["stage_ms_per_frame"])
    print(f"{'sequence':<20} {'frames':>6} {'J':>6} {'F':>6} {'J&F':>6} {'objs':>4} {'fps':>6}   ms/frame: "
          + " ".join(names))
    for r in results:
        st = r["stage_ms_per_frame"]
        print(f"{r['seq']:<20} {r['frames']:>6} {100 * r['J']:6.1f} {100 * r['F']:6.1f} {100 * r['JF']:6.1f} "
              f"{r['objects']:>4} {r['fps']:6.1f}   " + " ".join(f"{st[k]:.1f}" for k in names))
    mean = {k: float(np.mean([r[k] for r in results])) for k in ("J", "F", "JF", "fps")}
    frames = sum(r["frames"] for r in results)
    total_fps = frames / sum(r["seconds"] for r in results)
    stage = {k: float(np.mean([r["stage_ms_per_frame"][k] for r in results])) for k in results[0]["stage_ms_per_frame"]}
    print(f"{'mean':<20} {frames:>6} {100 * mean['J']:6.1f} {100 * mean['F']:6.1f} {100 * mean['JF']:6.1f} "
          f"{sum(r['objects'] for r in results):>4} {total_fps:6.1f}   " + " ".join(f"{v:.1f}" for v in stage.values()))
    if args.json:
        summary = {"args": vars(args), "sequences": results, "mean": mean, "fps_all_frames": total_fps,
                   "stage_ms_per_frame": stage}
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
