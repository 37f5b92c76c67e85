"""``motionseg-trt train`` (also ``python -m motionseg_training``): train the embedded trajectory
classifier on generated clips.

The shipped weights (``motionseg_trt/weights/embedded_classifier_v2.safetensors``) come from one
command, given in the model card beside them with the machine it ran on. The engine's command line
registers this command when this package is installed (``motionseg_trt.cli.train``).
"""
from __future__ import annotations

import argparse
import math
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train the embedded motion classifier on procedurally generated clips",
        description="Render clips with motionseg_training.synth, track them with the embedded tracker, label the "
                    "tracks from ground truth, and train the trajectory classifier (no DINO; no depth, or the "
                    "geometric camera residuals in its place with --evidence camera_residual).")
    p.add_argument("--out", required=True, help="output folder (model.safetensors, train.json)")
    p.add_argument("--clips", type=int, default=400, help="training clips (seeds 0..N-1)")
    p.add_argument("--seeds", default="", help="training clip seeds as ranges, e.g. 0-99,150-199 (overrides --clips)")
    p.add_argument("--val-clips", type=int, default=40, help="validation clips (seeds from 1000000)")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batch order")
    p.add_argument("--batch", type=int, default=4, help="windows per step")
    p.add_argument("--tracks", type=int, default=128, help="tracks sampled per window per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threshold", default="0.6",
                   help="moving-track threshold stored with the weights, or 'auto': the best F0.5 (precision "
                        "weighted: the densifier turns false positives into false masks) on the validation clips")
    p.add_argument("--evidence", default="", choices=["", "camera_residual", "camera_stabilised"],
                   help="camera_residual: feed the geometric camera-model residual per frame (depth slot) and "
                        "the geometric logit as a prior (motionseg_trt.motion.residual_features); "
                        "camera_stabilised: the same, and the tracks with the camera's motion taken out in "
                        "place of the raw ones")
    p.add_argument("--size", default="320x180", help="WIDTHxHEIGHT of the generated clips (the tracker runs on them "
                                                  "at this size)")
    p.add_argument("--scene", action="append", default=[], metavar="KEY=VALUE",
                   help="a generator setting (motionseg_training.synth.SceneConfig field, e.g. dominant_p=0.75, "
                        "water_p=0.2) for every clip")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    p.add_argument("--cache-dir", default="", help="dataset cache (default <cache>/train: $MOTIONSEG_CACHE, "
                                                  "else ~/.cache/motionseg-trt)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from .data import DataConfig
    from .synth import SceneConfig
    from .trainer import TrainConfig, parse_seeds, train

    from motionseg_trt.io.output_dir import check_output_path

    check_output_path(args.out)  # a file, or a path below one: exit code 4 before any work
    if args.cache_dir:
        check_output_path(args.cache_dir, "cache folder")
    try:
        width, height = _size(args.size)
        _check_numbers(args)
        if args.seeds:
            parse_seeds(args.seeds)  # the trainer parses it again; a bad spec is refused before any work
        scene = {}
        for item in args.scene:
            key, sep, value = item.partition("=")
            if not sep or key not in SceneConfig.__dataclass_fields__:
                raise ValueError(f"--scene takes KEY=VALUE with KEY a field of SceneConfig, not {item!r}")
            scene[key] = _parse_like(getattr(SceneConfig(), key), value)
    except ValueError as exc:
        print(f"motionseg-trt train: error: {exc}", file=sys.stderr)
        return 2
    cfg = TrainConfig(out=args.out, cache_dir=args.cache_dir, train_clips=args.clips, train_seeds=args.seeds,
                      val_clips=args.val_clips,
                      epochs=args.epochs, batch=args.batch, tracks=args.tracks, lr=args.lr, seed=args.seed,
                      threads=args.threads, max_steps=args.max_steps,
                      threshold=-1.0 if args.threshold == "auto" else float(args.threshold),
                      evidence=args.evidence, data=DataConfig(width=width, height=height, scene=scene))
    if args.evidence:
        cfg.model["use_depth"] = True  # the depth slot carries the evidence
    info = train(cfg)
    val = info.get("val", {})
    print(f"validation: AUC {val.get('auc', float('nan')):.4f}  precision {val.get('precision', 0):.4f}  "
          f"recall {val.get('recall', 0):.4f}")
    return 0


def _parse_like(default, value: str):
    """``value`` read as the type of ``default`` (bool: 1/true/yes; tuple: comma-separated numbers)."""
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes")
    try:
        if isinstance(default, tuple):
            return tuple(float(v) for v in value.split(","))
        return type(default)(value)
    except ValueError:
        raise ValueError(f"--scene value {value!r} is not a {type(default).__name__}") from None


def _check_numbers(args: argparse.Namespace) -> None:
    """The numeric flags' ranges (a zero epoch count or batch would fail deep inside training)."""
    for flag, value, low in (("--clips", args.clips, 1), ("--val-clips", args.val_clips, 0),
                             ("--epochs", args.epochs, 1), ("--batch", args.batch, 1), ("--tracks", args.tracks, 1),
                             ("--threads", args.threads, 1), ("--max-steps", args.max_steps, 0)):
        if value < low:
            raise ValueError(f"{flag} must be at least {low}, not {value}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a finite number above 0, not {args.lr}")
    if args.threshold == "auto":
        if args.val_clips < 1:
            raise ValueError("--threshold auto chooses the threshold on validation clips: give --val-clips 1 or more")
        return
    try:
        threshold = float(args.threshold)
    except ValueError:
        threshold = float("nan")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"--threshold must be 'auto' or a probability in [0, 1], not {args.threshold!r}")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 32 for p in parts):
        raise ValueError(f"--size must be WIDTHxHEIGHT (at least 32x32), not {text!r}")
    return int(parts[0]), int(parts[1])
