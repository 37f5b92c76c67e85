"""``motionseg-trt build``: export the networks of a model set's stages to ONNX, then compile TensorRT
engines (engine cache) or, without TensorRT, prepare and check ONNX Runtime sessions.

What is built is what the stages declare (their ``network_specs``, the same descriptions a run asks
the runtime layer for), so ``build`` and ``run`` cannot disagree on a graph, a shape profile or a
cache entry."""
from __future__ import annotations

import argparse
import sys
import time

from ..config import RunConfig
from ..errors import OptionError
from .run import _positive_int

_D = RunConfig()


def _side(text: str) -> int:
    from ..io.decode import MIN_SIDE

    value = _positive_int(text)
    if value < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"expected at least {MIN_SIDE} pixels, got {value}")
    return value


def register(subparsers) -> None:
    from .. import stages
    from ..features.extractor import OPTIONS as FEATURE_OPTIONS
    from ..runtime import backends

    choices = {o.name: o.choices for o in FEATURE_OPTIONS}
    p = subparsers.add_parser(
        "build", help="export the networks to ONNX and build TensorRT engines (or ONNX Runtime sessions)",
        description="Export every network of the chosen model set's stages to ONNX for a working resolution, "
                    "then build TensorRT engines (cached by ONNX hash, GPU, TensorRT version, precision and "
                    "shape profile). Without TensorRT, says so and prepares ONNX Runtime sessions instead.")
    p.add_argument("--models", choices=stages.model_sets(), default="official")
    p.add_argument("--backend", choices=backends.backend_names(build=True), default=backends.DEFAULT_BUILD_BACKEND)
    p.add_argument("--fp16", action="store_true", help="half-precision engines / graphs")
    p.add_argument("--height", type=_side, default=480, help="working height in pixels (default 480)")
    p.add_argument("--width", type=_side, default=854, help="working width in pixels (default 854)")
    p.add_argument("--window", type=_positive_int, default=_D.window, help=f"frames per window (default {_D.window})")
    p.add_argument("--offline", action="store_true",
                   help="engines for `run --offline` (one window is the whole clip: the tracker takes up "
                        "to 512 frames, or the tracker_max_frames option)")
    p.add_argument("--weights-dir", metavar="DIR", help="where `motionseg-trt download` put the weights")
    p.add_argument("--classifier-checkpoint", metavar="PATH", help="official moseg.pth")
    p.add_argument("--sam2-checkpoint", metavar="PATH", help="SAM2 checkpoint (.pt)")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights of the right shapes (tests the plumbing only; no quality)")
    p.add_argument("--engine-cache", metavar="DIR", help="artifact folder (default <cache>/engines)")
    for flag, kind in (("--tracker", "tracker"), ("--features", "features"), ("--motion-model", "labeller"),
                       ("--densifier", "densifier")):
        p.add_argument(flag, choices=stages.names(kind), default=None,
                       help=f"build this {kind}'s networks only (default: those of every {kind} of the set)")
    p.add_argument("--dino-variant", choices=choices["dino_variant"], default="vitb14")
    p.add_argument("--depth-variant", choices=choices["depth_variant"], default="small")
    p.add_argument("--sam2-config", default=_D.sam2_config)
    p.add_argument("--providers", default="cpu",
                   help="ONNX Runtime execution providers to prepare, comma-separated: cpu,cuda,tensorrt")
    p.add_argument("--only", action="append", metavar="NAME", help="build only this network (repeatable)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a stage setting (`run --list-options`), e.g. dino_stride=14 or depth_batch=8")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=main)


def config_from_args(args) -> RunConfig:
    from ..options import check_options
    from .options import parse_options

    extra = {"random_weights": bool(args.random_weights), "dino_variant": args.dino_variant,
             "depth_variant": args.depth_variant, "ort_providers": args.providers}
    try:
        extra.update(parse_options(args.option))
    except ValueError as exc:
        raise OptionError(f"build: {exc}") from None
    config = RunConfig(models=args.models, backend=args.backend, fp16=args.fp16, window=args.window,
                       offline=args.offline, weights_dir=args.weights_dir,
                       classifier_checkpoint=args.classifier_checkpoint, sam2_checkpoint=args.sam2_checkpoint,
                       engine_cache=args.engine_cache,
                       sam2_config=args.sam2_config, extra=extra)
    check_options(config)
    return config


def main(args) -> int:
    import dataclasses

    from tqdm import tqdm

    from ..runtime.backends import get_backend
    from ..runtime.dispatch import artifacts_dir, prepare
    from ..stages import check_weights_of, classes_of_set, network_specs_of_set

    config = config_from_args(args)
    from ..io.output_dir import check_output_path

    check_output_path(str(artifacts_dir(config)), "engine cache folder")  # --engine-cache FILE: exit code 4
    picks = {"tracker": args.tracker, "features": args.features, "labeller": args.motion_model,
             "densifier": args.densifier}
    specs = network_specs_of_set(config, picks, (args.height, args.width))
    if not args.only:  # every missing weight file in one message, before the first export
        check_weights_of(config, classes_of_set(config, picks))
    if args.only:
        unknown = set(args.only) - {s.name for s in specs}
        if unknown:
            raise OptionError(f"build: unknown network(s) {sorted(unknown)}; this set has "
                              f"{[s.name for s in specs]}")
        specs = [s for s in specs if s.name in args.only]
    if not specs:
        print(f"the {args.models} model set has no network to build")
        return 0

    backend = get_backend(config.backend)
    reason = backend.missing(build=True)
    if reason and backend.build_fallback:
        fallback = get_backend(backend.build_fallback)
        print(f"motionseg-trt build: {reason}; preparing {fallback.title} sessions instead.", file=sys.stderr)
        config = dataclasses.replace(config, backend=fallback.name)
    elif reason:
        backend.check_installed()
    out = artifacts_dir(config)
    print(f"building {len(specs)} network(s) of the {args.models} set for {args.width}x{args.height}, "
          f"window {args.window}, {'fp16' if args.fp16 else 'fp32'}, backend {config.backend} -> {out}")
    done = []
    bar = tqdm(specs, unit="net", disable=args.no_progress or not sys.stderr.isatty(), file=sys.stderr)
    for spec in bar:
        bar.set_description(spec.name)
        t0 = time.perf_counter()
        paths = prepare(config, spec, log=print)
        done.append((spec.name, paths, time.perf_counter() - t0))
    bar.close()
    for name, paths, secs in done:
        print(f"  {name:12s} {secs:7.1f} s  " + ", ".join(paths))
    return 0
