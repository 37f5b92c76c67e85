r"""Mask J&F of several motion labellers on the same tracks: the tracker runs once per sequence.

    python benchmarks/labeller_compare.py [DATA] --seqs bear,boat --max-frames 48 \
        --variant geometric --variant learned --variant learned:learned_weights=runs/v2/model.safetensors \
        [--track-cache /tmp/davis_tracks] [--json out.json]

Each variant is ``motion_model[:key=value,key=value]`` (RunConfig.extra), or ``oracle``: each track
labelled by the ground-truth mask under it at its query frame, the best any labeller can do with this
tracker and densifier. ``nofp:VARIANT`` and ``nofn:VARIANT`` split a labeller's distance to the oracle
into its two kinds of error: VARIANT's labels with its false positives dropped (moving AND ground
truth), or with its misses added (moving OR ground truth). ``best:VARIANT`` keeps VARIANT's scores
and gives each window the threshold with the best F0.5 against the ground truth: the most that any
selection rule (per-window thresholds, rank cuts, cascades) could make of its ranking. Every variant sees the same
windows and the same tracks (the embedded flow tracker) and its own fresh embedded densifier, exactly
as ``davis_eval.py --direct`` calls the stages, so differences come from the labeller only. With
``--track-cache`` the tracks are kept on disk (``<seq>-<frames>-<window>-<stride>-<tracker hash>.npz``, the
hash of the tracker's options and defaults)
and re-used by later runs (tuning a threshold costs no tracking); ``--tracker-set key=value`` changes
the tracker for all variants.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.davis_eval import DEFAULT_DATA, _score  # noqa: E402
from benchmarks.track_metrics import best_cut  # noqa: E402

CORRECTIONS = ("nofp:", "nofn:", "best:")


def _windows(seq_dir: Path, limit: int, window: int, stride: int):
    from motionseg_trt.contracts import FrameWindow
    from motionseg_trt.io.decode import open_frames
    from motionseg_trt.io.windows import VideoSource

    reader = open_frames(str(seq_dir / "clip.mp4"), threads=1)
    try:
        for w in VideoSource(reader, window=window, stride=stride, offline=False):
            if w.start + w.emit_from >= limit:
                break
            if w.start + w.length > limit:
                w = FrameWindow(w.index, w.start, w.frames[:limit - w.start], w.emit_from, True)
            yield w
    finally:
        reader.close()


def _tracks(seq_dir: Path, windows, args):
    """The tracker's output for every window, from the cache when present."""
    from motionseg_trt.config import RunConfig
    from motionseg_trt.contracts import Tracks
    from motionseg_trt.tracks.flow_tracker import FlowTracker, defaults_signature

    options = dict(kv.split("=", 1) for kv in args.tracker_set)
    # the tracker's options and defaults are part of the cache name: another tracker, other tracks
    signature = {"options": options, "defaults": defaults_signature()}
    tag = hashlib.sha1(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:8]
    path = Path(args.track_cache) / f"{seq_dir.name}-{args.max_frames}-{args.window}-{args.stride}-{tag}.npz" \
        if args.track_cache else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            return [Tracks(xy=z[f"xy{i}"], visible=z[f"visible{i}"], confidence=z[f"confidence{i}"],
                           ids=z[f"ids{i}"], query_frame=z[f"query{i}"]) for i in range(len(windows))]
    tracker = FlowTracker(RunConfig(window=args.window, stride=args.stride, threads=1, extra=options))
    out = [tracker.track(w) for w in windows]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, t in enumerate(out):
            arrays.update({f"xy{i}": t.xy, f"visible{i}": t.visible, f"confidence{i}": t.confidence,
                           f"ids{i}": t.ids, f"query{i}": t.query_frame})
        np.savez_compressed(path, **arrays)
    return out


def _variant(spec: str):
    model, _, opts = spec.partition(":")
    extra = dict(kv.split("=", 1) for kv in opts.split(",") if kv)
    return model, extra


class OracleLabeller:
    """Moving = the GT mask is set under the track at its query frame (evaluation only)."""

    def __init__(self, gt_files):
        self.gt_files = gt_files

    def label(self, window, tracks, features=None):
        from motionseg_trt.contracts import MotionLabels

        h, w = window.frames.shape[1:3]
        moving = np.zeros(tracks.num_tracks, bool)
        for q in np.unique(tracks.query_frame):
            rows = np.flatnonzero(tracks.query_frame == q)
            gt = cv2.imread(str(self.gt_files[min(window.start + int(q), len(self.gt_files) - 1)]),
                            cv2.IMREAD_GRAYSCALE) > 0
            xy = tracks.xy[rows, q] * np.array([gt.shape[1] / w, gt.shape[0] / h])
            col = np.clip(np.round(xy[:, 0]).astype(int), 0, gt.shape[1] - 1)
            row = np.clip(np.round(xy[:, 1]).astype(int), 0, gt.shape[0] - 1)
            moving[rows] = gt[row, col]
        return MotionLabels(prob=moving.astype(np.float32), moving=moving, threshold=0.5)


class CorrectedLabeller:
    """Another labeller's labels with one kind of its errors corrected by the ground truth (evaluation
    only): ``drop_false_positives`` keeps its moving tracks that the oracle calls moving, otherwise the
    oracle's moving tracks are added to its own."""

    def __init__(self, inner, oracle: OracleLabeller, drop_false_positives: bool):
        self.inner, self.oracle, self.drop_false_positives = inner, oracle, drop_false_positives

    def label(self, window, tracks, features=None):
        from motionseg_trt.contracts import MotionLabels

        own = self.inner.label(window, tracks, features)
        truth = self.oracle.label(window, tracks).moving
        moving = own.moving & truth if self.drop_false_positives else own.moving | truth
        return MotionLabels(prob=moving.astype(np.float32), moving=moving, threshold=0.5)


class BestThresholdLabeller:
    """Another labeller's scores, each window cut at the threshold with the best F0.5 against the
    oracle (evaluation only): the ceiling of any selection rule on that labeller's ranking."""

    def __init__(self, inner, oracle: OracleLabeller):
        self.inner, self.oracle = inner, oracle

    def label(self, window, tracks, features=None):
        from motionseg_trt.contracts import MotionLabels

        own = self.inner.label(window, tracks, features)
        _, threshold = best_cut(own.prob, self.oracle.label(window, tracks).moving)
        return MotionLabels(prob=own.prob, moving=own.prob >= threshold, threshold=threshold)


def _evaluation_labeller(correction: str, labeller, gt_files):
    """The variant's labeller after its ``oracle`` / ``nofp:`` / ``nofn:`` / ``best:`` prefix."""
    oracle = OracleLabeller(gt_files)
    if correction == "best":
        return BestThresholdLabeller(labeller, oracle)
    if correction:
        return CorrectedLabeller(labeller, oracle, drop_false_positives=correction == "nofp")
    return labeller


def run_sequence(seq_dir: Path, args) -> dict:
    from motionseg_trt.config import RunConfig
    from motionseg_trt.stages import build_stages

    cv2.setNumThreads(1)
    gt_files = sorted((seq_dir / "masks").glob("*.png"))
    limit = min(len(gt_files), args.max_frames or len(gt_files))
    windows = list(_windows(seq_dir, limit, args.window, args.stride))
    tracks = _tracks(seq_dir, windows, args)
    results = {}
    for spec in args.variant:
        correction, _, inner_spec = spec.partition(":") if spec.startswith(CORRECTIONS) else ("", "", spec)
        model, extra = _variant(inner_spec)
        config = RunConfig(input=str(seq_dir / "clip.mp4"), window=args.window, stride=args.stride,
                           motion_model="geometric" if model == "oracle" else model, densifier="embedded",
                           write_overlay=False, progress=False, threads=1, backend=args.backend, extra=extra)
        _, features, labeller, densifier = build_stages(config)
        if model == "oracle":
            labeller = OracleLabeller(gt_files)
        labeller = _evaluation_labeller(correction, labeller, gt_files)
        preds = []
        for w, tr in zip(windows, tracks):
            feats = features.extract(w, tr)
            labels = labeller.label(w, tr, feats)
            preds.extend(list(densifier.densify(w, tr, labels, feats).labels))
        results[spec] = _score(seq_dir.name, preds, gt_files, limit, {}, 1.0)
        print(f"  {seq_dir.name:<20} {spec:<60} J&F {100 * results[spec]['JF']:.1f}", flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--seqs", default="", help="comma-separated sequence names (default: all)")
    parser.add_argument("--max-frames", type=int, default=0)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--backend", default="onnxruntime", help="backend of the learned labeller")
    parser.add_argument("--variant", action="append", required=True,
                        help="motion_model[:key=value,...], oracle, or nofp:|nofn:|best: before one of those")
    parser.add_argument("--track-cache", default="", help="keep the tracks here and re-use them")
    parser.add_argument("--tracker-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a flow-tracker option (RunConfig.extra) for every variant's tracks")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = Path(args.data)
    seqs = [s for s in args.seqs.split(",") if s] or sorted(p.name for p in data.iterdir() if (p / "clip.mp4").exists())
    per_seq = [run_sequence(data / s, args) for s in seqs]
    print(f"{'variant':<60} {'J':>6} {'F':>6} {'J&F':>6}   ({len(seqs)} sequences, "
          f"{sum(r[args.variant[0]]['frames'] for r in per_seq)} frames)")
    summary = {}
    for spec in args.variant:
        mean = {k: float(np.mean([r[spec][k] for r in per_seq])) for k in ("J", "F", "JF")}
        summary[spec] = {"mean": mean, "sequences": [r[spec] for r in per_seq]}
        print(f"{spec:<60} {100 * mean['J']:6.1f} {100 * mean['F']:6.1f} {100 * mean['JF']:6.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "variants": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
