"""``motionseg-trt run INPUT [--out DIR]``: segment the moving objects of a video."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import RunConfig
from ..errors import InputError

_DEFAULTS = RunConfig()


class _ListOptions(argparse.Action):
    """``--list-options``: print every stage setting and exit (like ``--version``, before INPUT is asked for)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..options import declared_options, format_options

        print(format_options(declared_options()))
        parser.exit()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _defaults_in_words(kind: str) -> str:
    from .. import stages

    words = [f"{stages.default_stage(kind, m)} ({m})" for m in stages.model_sets()]
    if kind == "features":
        words.append("or what the motion model / densifier needs")
    return ", ".join(words)


def register(subparsers) -> None:
    from .. import stages
    from ..runtime import backends

    p = subparsers.add_parser(
        "run", help="segment the moving objects of a video",
        description="Segment every object that moves on its own in INPUT (a video file or a folder of "
                    "JPEG/PNG frames) and write masks/, overlay.mp4, objects.json and run.json to --out (default: "
                    "INPUT's name + _motionseg, in the current folder).")
    p.add_argument("input", metavar="INPUT", help="video file (any container/codec FFmpeg reads) or frame folder")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="output folder, new or empty (default: ./NAME_motionseg for INPUT NAME.mp4 or NAME/)")
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in --out")

    s = p.add_argument_group("streaming")
    s.add_argument("--window", type=_positive_int, default=_DEFAULTS.window,
                   help=f"frames per window (default {_DEFAULTS.window})")
    s.add_argument("--stride", type=_positive_int, default=_DEFAULTS.stride,
                   help=f"new frames per window, <= --window; latency of one stride (default {_DEFAULTS.stride})")
    s.add_argument("--offline", action="store_true", help="the whole clip as one window (official behaviour)")
    s.add_argument("--max-side", type=_positive_int, default=_DEFAULTS.max_side,
                   help=f"downscale inputs whose longest side is larger (default {_DEFAULTS.max_side})")

    m = p.add_argument_group("models")
    m.add_argument("--models", choices=stages.model_sets(), default=_DEFAULTS.models,
                   help="model set (default embedded: no download needed)")
    for flag, kind, what in (("--tracker", "tracker", "point tracker"),
                             ("--features", "features", "features of the frames (depth, DINO)"),
                             ("--motion-model", "labeller", "motion labeller"),
                             ("--densifier", "densifier", "masks from moving tracks")):
        m.add_argument(flag, choices=stages.names(kind), default=None,
                       help=f"{what} (default: {_defaults_in_words(kind)})")
    m.add_argument("--classifier-checkpoint", metavar="PATH", help="official moseg.pth")
    m.add_argument("--sam2-checkpoint", metavar="PATH", help="SAM2 checkpoint (.pt)")
    m.add_argument("--sam2-config", default=_DEFAULTS.sam2_config, help="SAM2 model config name")
    m.add_argument("--sam2-image-size", type=_positive_int, default=None, metavar="N",
                   help="SAM2's square input size (default: the SAM2 config's, 1024); smaller is faster")
    m.add_argument("--weights-dir", metavar="DIR", help="folder where `motionseg-trt download` put the weights")

    r = p.add_argument_group("runtime")
    r.add_argument("--backend", choices=backends.backend_names(), default=_DEFAULTS.backend,
                   help="runtime of the networks: " + "; ".join(f"{b.name}: {b.help}" for b in backends.BACKENDS))
    r.add_argument("--fp16", action="store_true", help="half precision on GPU (no effect on CPU)")
    r.add_argument("--device", choices=("cpu", "cuda"), default=_DEFAULTS.device)
    r.add_argument("--threads", type=_positive_int, default=None, help="CPU threads (default: all)")
    r.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a stage setting (repeatable), e.g. geo_outlier_k=3 or random_weights=true; "
                        "--list-options lists them")
    r.add_argument("--list-options", action=_ListOptions,
                   help="list every stage setting (name, default, limits, stage, help) and exit")

    o = p.add_argument_group("output")
    o.add_argument("--no-overlay", action="store_true", help="do not write overlay.mp4")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    from ..stages import default_stage

    if not args.offline and args.stride > args.window:
        raise _UsageError(f"--stride ({args.stride}) must not exceed --window ({args.window})")
    from .options import parse_options

    try:
        extra = parse_options(args.option)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if args.sam2_image_size:
        extra["sam2_image_size"] = args.sam2_image_size
    return RunConfig(
        input=args.input,
        out=args.out or default_out(args.input),
        overwrite=args.overwrite,
        window=args.window,
        stride=args.stride,
        offline=args.offline,
        max_side=args.max_side,
        models=args.models,
        tracker=args.tracker or default_stage("tracker", args.models),
        features=args.features,
        motion_model=args.motion_model or default_stage("labeller", args.models),
        densifier=args.densifier or default_stage("densifier", args.models),
        classifier_checkpoint=args.classifier_checkpoint,
        sam2_checkpoint=args.sam2_checkpoint,
        sam2_config=args.sam2_config,
        weights_dir=args.weights_dir,
        backend=args.backend,
        fp16=args.fp16,
        device=args.device,
        threads=args.threads,
        write_overlay=not args.no_overlay,
        progress=not args.no_progress,
        extra=extra,
    )


def default_out(input_path: str) -> str:
    """Where results go without ``--out``: beside the user, not beside the input (which may be
    read-only), named after it so that runs on different clips do not collide."""
    path = Path(input_path)
    # a frame folder keeps its whole name (shots/take.2/ -> take.2), a video loses its extension
    name = (path.name if path.is_dir() else path.stem) or path.resolve().name or "input"
    return str(Path.cwd() / f"{name}_motionseg")


class _UsageError(Exception):
    pass


def main(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except _UsageError as exc:
        print(f"motionseg-trt run: error: {exc}", file=sys.stderr)
        return 2
    if config.fp16 and config.device == "cpu":
        print("motionseg-trt: note: --fp16 has no effect on CPU", file=sys.stderr)

    from ..pipeline import run_pipeline

    summary = run_pipeline(config)  # SIGINT / SIGTERM: see cli.main
    fps = summary.get("fps")
    print(f"motionseg-trt: {summary['frames']} frames, {summary['objects']} moving object(s), "
          f"{fps:.1f} fps -> {config.out}" if fps else
          f"motionseg-trt: {summary['frames']} frames, {summary['objects']} moving object(s) -> {config.out}")
    if summary["status"] != "complete":
        decode = summary["decode"]
        raise InputError(f"corrupt input: decoding stopped at frame {decode['stopped_at']} "
                         f"({decode['error']}); outputs were written for frames 0-{decode['frames_decoded'] - 1}")
    for warning in summary.get("warnings", []):
        if "fp16" not in warning:
            print(f"motionseg-trt: warning: {warning}", file=sys.stderr)
    return 0
