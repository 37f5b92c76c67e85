r"""Track-level accuracy of the motion labellers on generated validation clips (learned vs geometric).

    python benchmarks/track_metrics.py [--weights W.safetensors] [--clips 25] [--cache-dir DIR] [--json out.json]
    python benchmarks/track_metrics.py --real ../shared/data/davis16-dev [--seqs bear,boat] [--max-frames 64] \
        [--windows-cache windows.npz]

Validation clips are seeds 1000000.. of ``motionseg_training.synth`` (never used for training), tracked by
the embedded tracker exactly as for training (windows of 32 frames, stride 16, at most 1024 tracks kept
per window), labelled from GT masks at each track's query frame. Per labeller: AUC of its score for
moving-vs-static, and precision / recall of the tracks it selects as moving (its own selection rule).
Both labellers see the same tracks. Windows without any moving track count for precision only.

Per window, F0.5 of the labeller's own moving set (``window_f05``; F0.5 weighs precision more, as
the densifier turns every false positive track into a false mask) and the best F0.5 that any threshold
on its score could give that window (``window_f05_best``): how much a better selection rule (a
per-window threshold) could gain, as opposed to a better ranking of the tracks. Both are means over
the windows that hold a moving track.

``--real DIR`` does the same on real clips ``DIR/<seq>/{clip.mp4, masks/*.png}`` (evaluation only):
the engine's decoder, windows and tracker, each track labelled by the GT mask under it at its query
frame (DAVIS-2016 masks mark the moving foreground object); ``--max-frames 0`` takes every frame.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def fbeta(moving: np.ndarray, label: np.ndarray, beta: float = 0.5) -> float:
    """F-beta of a moving set against the labels (0 when either is empty)."""
    moving, label = np.asarray(moving, bool), np.asarray(label, bool)
    tp = float(np.sum(moving & label))
    if tp == 0:
        return 0.0
    p, r = tp / moving.sum(), tp / label.sum()
    return (1 + beta ** 2) * p * r / (beta ** 2 * p + r)


def best_cut(prob: np.ndarray, label: np.ndarray, beta: float = 0.5) -> tuple[float, float]:
    """The best F-beta of ``prob >= t`` over every threshold t, and that t (the lowest score in the
    moving set; +inf, nothing moving, when no track is labelled moving). The moving set is always the
    top k tracks by score, so every k is tried (tied scores enter together)."""
    prob, label = np.asarray(prob, np.float64), np.asarray(label, bool)
    if not label.any():
        return 0.0, float("inf")
    order = np.argsort(-prob, kind="stable")
    tp = np.cumsum(label[order])
    k = np.arange(1, len(prob) + 1)
    last_of_tie = np.r_[prob[order][1:] != prob[order][:-1], True]  # a cut between distinct scores
    p, r = tp / k, tp / label.sum()
    f = np.where(tp > 0, (1 + beta ** 2) * p * r / np.maximum(beta ** 2 * p + r, 1e-12), 0.0)
    f = np.where(last_of_tie, f, -1.0)  # only cuts between distinct scores are thresholds
    best = int(np.argmax(f))
    return float(f[best]), float(prob[order][best])


def best_threshold_fbeta(prob: np.ndarray, label: np.ndarray, beta: float = 0.5) -> float:
    """The best F-beta that any threshold on ``prob`` gives (see ``best_cut``)."""
    return best_cut(prob, label, beta)[0]


def window_means(probs: list, moving: list, labels: list, beta: float = 0.5) -> dict:
    """Mean over the windows holding a moving track of the own set's F-beta and the best threshold's."""
    rows = [(fbeta(m, y, beta), best_threshold_fbeta(p, y, beta)) for p, m, y in zip(probs, moving, labels)
            if np.any(y)]
    if not rows:
        return {"window_f05": float("nan"), "window_f05_best": float("nan"), "windows_with_motion": 0}
    own, best = np.mean(rows, 0)
    return {"window_f05": float(own), "window_f05_best": float(best), "windows_with_motion": len(rows)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="", help="learned weights (default: the shipped ones)")
    p.add_argument("--clips", type=int, default=25)
    p.add_argument("--cache-dir", default="", help="dataset cache (default ~/.cache/motionseg_trt/train)")
    p.add_argument("--json", default="")
    p.add_argument("--threshold", type=float, default=None, help="learned threshold (default: labeller's)")
    p.add_argument("--real", default="", help="folder of <seq>/{clip.mp4,masks/} to evaluate on instead")
    p.add_argument("--seqs", default="", help="with --real: comma-separated sequence names")
    p.add_argument("--max-frames", type=int, default=64, help="with --real: frames per sequence (0: all)")
    p.add_argument("--labellers", default="learned,geometric")
    p.add_argument("--chunk", type=int, default=0, help="learned: tracks per scoring chunk (default: labeller's)")
    p.add_argument("--windows-cache", default="", help="with --real: tracked windows file (.npz) to reuse or write")
    args = p.parse_args(argv)

    import torch

    from motionseg_trt.config import RunConfig
    from motionseg_trt.contracts import FrameWindow
    from motionseg_trt.motion.geometric import GeometricLabeller
    from motionseg_trt.motion.learned import LearnedLabeller
    from motionseg_training.data import DataConfig, build_dataset
    from motionseg_training.trainer import VAL_SEED_BASE, TrainConfig, _cache_dir, track_metrics

    torch.set_num_threads(1)
    data_cfg = DataConfig()
    if args.real:
        from motionseg_training.data import _write_shard, read_shard

        cached = Path(args.windows_cache) if args.windows_cache else None
        if cached is not None and cached.is_file():
            samples = read_shard(cached)
        else:
            samples = real_windows(Path(args.real), args.seqs, args.max_frames, data_cfg)
            if cached is not None:
                _write_shard(cached, samples)
    else:
        cache = _cache_dir(TrainConfig(cache_dir=args.cache_dir))
        samples = build_dataset(cache, list(range(VAL_SEED_BASE, VAL_SEED_BASE + args.clips)), data_cfg,
                                progress=False)
    extra = {"learned_weights": args.weights} if args.weights else {}
    if args.chunk:
        extra["learned_chunk"] = args.chunk
    if args.threshold is not None:
        extra["learned_threshold"] = args.threshold
    cfg = RunConfig(backend="torch", threads=1, extra=extra)
    factories = {"learned": LearnedLabeller, "geometric": GeometricLabeller}
    labellers = {name: factories[name](cfg) for name in args.labellers.split(",") if name}
    results = {}
    for name, lab in labellers.items():
        probs, moving, labels = [], [], []
        t0 = time.time()
        for i, s in enumerate(samples):
            h, w = s.image_hw
            frames = np.zeros((s.xy.shape[1], h, w, 3), np.uint8)
            window = FrameWindow(index=i, start=s.window_start, frames=frames, emit_from=0, is_last=False)
            out = lab.label(window, s.tracks, None)
            probs.append(out.prob)
            moving.append(out.moving)
            labels.append(s.label)
        prob, label = np.concatenate(probs), np.concatenate(labels)
        m = track_metrics(prob, label, np.concatenate(moving))
        m["seconds_per_window"] = (time.time() - t0) / max(len(samples), 1)
        m.update(window_means(probs, moving, labels))
        # precision / recall / F1 of a plain threshold on the score (to choose the selection threshold)
        m["sweep"] = {}
        for th in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
            sm = track_metrics(prob, label, prob > th)
            f1 = 2 * sm["precision"] * sm["recall"] / max(sm["precision"] + sm["recall"], 1e-9)
            m["sweep"][th] = {"precision": sm["precision"], "recall": sm["recall"], "f1": f1}
        results[name] = m
    source = f"real clips in {args.real}" if args.real else f"{args.clips} generated validation clips"
    print(f"{len(samples)} windows from {source}, "
          f"{sum(len(s.label) for s in samples)} tracks ({sum(int(s.label.sum()) for s in samples)} moving)")
    print(f"{'labeller':<10} {'AUC':>7} {'precision':>10} {'recall':>8} {'window F0.5':>12} {'best thr.':>10} "
          f"{'s/window':>9}")
    for name, m in results.items():
        print(f"{name:<10} {m['auc']:7.4f} {m['precision']:10.4f} {m['recall']:8.4f} {m['window_f05']:12.4f} "
              f"{m['window_f05_best']:10.4f} {m['seconds_per_window']:9.3f}")
    for name, m in results.items():
        print(f"{name} threshold sweep: " + "  ".join(
            f"{th}: P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f}" for th, v in m["sweep"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def real_windows(root: Path, seqs: str, max_frames: int, data_cfg) -> list:
    """Tracked windows of real clips with GT-mask labels at each track's query frame."""
    import cv2

    from motionseg_trt.config import RunConfig
    from motionseg_trt.io.decode import open_frames
    from motionseg_trt.io.windows import VideoSource
    from motionseg_trt.tracks.flow_tracker import FlowTracker
    from motionseg_training.data import WindowSample

    cv2.setNumThreads(1)
    names = [n for n in seqs.split(",") if n] or sorted(d.name for d in root.iterdir() if (d / "clip.mp4").exists())
    out = []
    for name in names:
        seq = root / name
        gt_files = sorted((seq / "masks").glob("*.png"))
        config = RunConfig(input=str(seq / "clip.mp4"), window=data_cfg.window, stride=data_cfg.stride)
        tracker = FlowTracker(config)
        reader = open_frames(config.input, max_side=config.max_side, threads=1)
        for window in VideoSource(reader, window=config.window, stride=config.stride):
            if window.start + window.length > min(max_frames or len(gt_files), len(gt_files)):
                break
            if window.length != data_cfg.window:  # a short clip's last, shorter window
                continue
            tr = tracker.track(window)
            keep = np.flatnonzero(tr.visible.any(1))
            n = np.arange(len(keep))
            q = tr.query_frame[keep]
            xy = tr.xy[keep]
            h, w = window.frames.shape[1:3]
            label = np.zeros(len(keep), bool)
            for f in np.unique(q):
                gt = cv2.imread(str(gt_files[window.start + f]), cv2.IMREAD_GRAYSCALE) > 0
                gt = cv2.resize(gt.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                sel = q == f
                p = xy[n[sel], f]
                label[sel] = gt[np.clip(np.rint(p[:, 1]).astype(int), 0, h - 1),
                                np.clip(np.rint(p[:, 0]).astype(int), 0, w - 1)]
            out.append(WindowSample(xy=xy, visible=tr.visible[keep], confidence=tr.confidence[keep], query=q,
                                    label=label, instance=label.astype(np.uint8), image_hw=(h, w),
                                    window_start=window.start))
        reader.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
