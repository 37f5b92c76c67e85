"""``motionseg-trt run INPUT [--out DIR]``: segment the moving objects of a video; with several inputs,
a folder of videos or ``--list FILE``, of each (``DIR/<name>/``, :mod:`motionseg_trt.batch`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

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


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
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
                    "INPUT's name + _motionseg, in the current folder). Several inputs, a folder of videos or "
                    "--list FILE: each video's results go to DIR/<name>/, videos whose run.json says complete "
                    "are skipped, and a table ends the run.")
    p.add_argument("inputs", metavar="INPUT", nargs="*",
                   help="video file (any container/codec FFmpeg reads) or frame folder; several, or a folder of "
                        "videos, for a batch")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="output folder, new or empty (default: ./NAME_motionseg for INPUT NAME.mp4 or NAME/); for "
                        "a batch, the folder of the videos' result folders (default: the current folder)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in --out (a batch: run complete videos again)")

    b = p.add_argument_group("many videos")
    b.add_argument("--list", metavar="FILE", dest="list_file",
                   help="a text file naming one input per line (# comments; paths relative to the file)")
    b.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="videos at a time, each in a process of its own (default 1: one after the other)")
    b.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the videos on a Ray cluster, one task per video (no ADDRESS: a local Ray; "
                        "'auto': the cluster of this machine; ray://HOST:PORT)")

    s = p.add_argument_group("streaming")
    s.add_argument("--window", type=_positive_int, default=_DEFAULTS.window,
                   help=f"frames per window (default {_DEFAULTS.window})")
    s.add_argument("--stride", type=_positive_int, default=_DEFAULTS.stride,
                   help=f"new frames per window, <= --window; latency of one stride (default {_DEFAULTS.stride})")
    s.add_argument("--offline", action="store_true", help="the whole clip as one window (official behaviour)")
    s.add_argument("--max-side", type=_positive_int, default=_DEFAULTS.max_side,
                   help=f"downscale inputs whose longest side is larger (default {_DEFAULTS.max_side})")
    t = s.add_mutually_exclusive_group()
    t.add_argument("--fps", type=_positive_float, default=None, metavar="F",
                   help="process at most F frames per second, chosen by timestamp (default: 24 for inputs of "
                        "48 fps and more, every frame below); every input frame still gets a mask")
    t.add_argument("--vid-stride", type=_positive_int, default=None, metavar="N",
                   help="process every Nth input frame instead (1: every frame)")

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
    o.add_argument("--overlay-size", metavar="WxH|N", default=None,
                   help="overlay.mp4 at WIDTHxHEIGHT, or with its longest side N (default: the input's size)")
    o.add_argument("--no-progress", action="store_true",
                   help="no progress bar (on a terminal) or progress lines (elsewhere, every 10 s)")
    o.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing but errors and warnings: no progress, no final line (a batch: no "
                        "line per video, no table)")
    p.set_defaults(func=main)


def config_from_args(args: argparse.Namespace, input_path: Optional[str] = None) -> RunConfig:
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
    if args.overlay_size:
        from ..io.sinks.overlay import parse_overlay_size

        try:
            parse_overlay_size(args.overlay_size)
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
    return RunConfig(
        input=input_path if input_path is not None else args.inputs[0],
        out=args.out or default_out(input_path if input_path is not None else args.inputs[0]),
        overwrite=args.overwrite,
        window=args.window,
        stride=args.stride,
        offline=args.offline,
        max_side=args.max_side,
        fps=args.fps,
        vid_stride=args.vid_stride,
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
        overlay_size=args.overlay_size,
        progress=not (args.no_progress or args.quiet),
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
    if not args.inputs and not args.list_file:
        print("motionseg-trt run: error: give an INPUT (or several, or --list FILE)", file=sys.stderr)
        return 2
    from ..batch.inputs import is_batch

    if is_batch(args.inputs, args.list_file):
        from .run_many import main as run_many

        return run_many(args)
    try:
        config = config_from_args(args)
    except _UsageError as exc:
        print(f"motionseg-trt run: error: {exc}", file=sys.stderr)
        return 2
    if config.fp16 and config.device == "cpu":
        print("motionseg-trt: note: --fp16 has no effect on CPU", file=sys.stderr)
    if args.jobs > 1 or args.ray is not None:
        print("motionseg-trt: note: --jobs and --ray spread several videos; one runs here", file=sys.stderr)

    from ..pipeline import run_pipeline

    summary = run_pipeline(config)  # SIGINT / SIGTERM / SIGHUP: see cli.main
    if not args.quiet:
        print(final_line(summary, config.out))
    if summary["status"] != "complete":
        decode = summary["decode"]
        raise InputError(f"corrupt input: decoding stopped at frame {decode['stopped_at']} "
                         f"({decode['error']}); outputs were written for frames 0-{decode['frames_decoded'] - 1}")
    for warning in summary.get("warnings", []):
        if "fp16" not in warning:
            print(f"motionseg-trt: warning: {warning}", file=sys.stderr)
    return 0


def final_line(summary: dict, out: str) -> str:
    """Frames, objects, fps, the folder, and the speed of each stage."""
    from ..progress import stage_speeds

    fps = summary.get("fps")
    speed = f", {fps:.1f} fps" if fps else ""
    stages = f" ({stage_speeds(summary['fps_per_stage'])})" if summary.get("fps_per_stage") else ""
    return f"motionseg-trt: {summary['frames']} frames, {summary['objects']} moving object(s){speed} -> {out}{stages}"
