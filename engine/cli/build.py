"""``motionseg-trt build``: export every network of a model set to ONNX, then compile TensorRT
engines (engine cache) or, without TensorRT, prepare and check ONNX Runtime sessions."""
from __future__ import annotations

import sys
import time

from ..config import RunConfig

_D = RunConfig()


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build", help="export the networks to ONNX and build TensorRT engines (or ONNX Runtime sessions)",
        description="Export every network of the chosen model set to ONNX for a working resolution, then "
                    "build TensorRT engines (cached by ONNX hash, GPU, TensorRT version, precision and "
                    "shape profile). Without TensorRT, says so and prepares ONNX Runtime sessions instead.")
    p.add_argument("--models", choices=("official", "embedded"), default="official")
    p.add_argument("--backend", choices=("trt", "onnxruntime"), default="trt")
    p.add_argument("--fp16", action="store_true", help="half-precision engines / graphs")
    p.add_argument("--height", type=int, default=480, help="working height in pixels (default 480)")
    p.add_argument("--width", type=int, default=854, help="working width in pixels (default 854)")
    p.add_argument("--window", type=int, default=_D.window, help=f"frames per window (default {_D.window})")
    p.add_argument("--offline", action="store_true",
                   help="engines for `run --offline` (one window is the whole clip: the tracker takes up "
                        "to 512 frames, or the tracker_max_frames option)")
    p.add_argument("--weights-dir", metavar="DIR", help="where `motionseg-trt download` put the weights")
    p.add_argument("--classifier-checkpoint", metavar="PATH", help="official moseg.pth")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights of the right shapes (tests the plumbing only; no quality)")
    p.add_argument("--engine-cache", metavar="DIR", help="artifact folder (default <cache>/engines)")
    p.add_argument("--tracker", choices=("bootstapir", "flow"), default="bootstapir")
    p.add_argument("--densifier", choices=("sam2", "embedded"), default="sam2")
    p.add_argument("--dino-variant", choices=("vitb14", "vits14"), default="vitb14")
    p.add_argument("--depth-variant", choices=("small", "large"), default="small")
    p.add_argument("--sam2-config", default=_D.sam2_config)
    p.add_argument("--providers", default="cpu",
                   help="ONNX Runtime execution providers to prepare, comma-separated: cpu,cuda,tensorrt")
    p.add_argument("--only", action="append", metavar="NAME", help="build only this network (repeatable)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="advanced stage option (RunConfig.extra), e.g. dino_stride=14 or depth_batch=8")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=main)


def config_from_args(args) -> RunConfig:
    extra = {"random_weights": bool(args.random_weights), "dino_variant": args.dino_variant,
             "depth_variant": args.depth_variant}
    from .options import parse_options

    try:
        extra.update(parse_options(args.option))
    except ValueError as exc:
        raise SystemExit(f"motionseg-trt build: {exc}") from None
    return RunConfig(models=args.models, backend=args.backend, fp16=args.fp16, window=args.window,
                     offline=args.offline,
                     weights_dir=args.weights_dir, classifier_checkpoint=args.classifier_checkpoint,
                     engine_cache=args.engine_cache, tracker=args.tracker if args.models == "official" else "flow",
                     densifier=args.densifier if args.models == "official" else "embedded",
                     motion_model="official" if args.models == "official" else "learned",
                     sam2_config=args.sam2_config, extra=extra)


def tensorrt_status() -> str | None:
    """None when the TensorRT builder can be imported, else the reason (one line)."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        from ..runtime.tensorrt.loader import TRT_MISSING

        return TRT_MISSING
    return None


def main(args) -> int:
    from tqdm import tqdm

    from ..official import embedded_targets, official_targets
    from ..runtime.networks import artifacts_dir

    config = config_from_args(args)
    make = official_targets if args.models == "official" else embedded_targets
    targets = make(config, args.height, args.width, args.window)
    if args.only:
        unknown = set(args.only) - {t.name for t in targets}
        if unknown:
            raise SystemExit(f"motionseg-trt build: unknown network(s) {sorted(unknown)}; this set has "
                             f"{[t.name for t in targets]}")
        targets = [t for t in targets if t.name in args.only]
    if not targets:
        print(f"the {args.models} model set has no network to build")
        return 0

    backend = args.backend
    if backend == "trt":
        reason = tensorrt_status()
        if reason:
            print(f"motionseg-trt build: {reason}; preparing ONNX Runtime sessions instead.", file=sys.stderr)
            backend = "onnxruntime"
    out = artifacts_dir(config)
    print(f"building {len(targets)} network(s) of the {args.models} set for {args.width}x{args.height}, "
          f"window {args.window}, {'fp16' if args.fp16 else 'fp32'}, backend {backend} -> {out}")
    done = []
    bar = tqdm(targets, unit="net", disable=args.no_progress, file=sys.stderr)
    for target in bar:
        bar.set_description(target.name)
        t0 = time.perf_counter()
        # TensorRT builds from the float32 graph (FP16 flag on TensorRT 10, converted on 11); ONNX
        # Runtime on a GPU provider uses the fp16 graph; on CPU the float32 one
        gpu_ort = backend == "onnxruntime" and any(p != "cpu" for p in _providers(args))
        graphs = target.make_onnx(args.fp16 and gpu_ort)
        for onnx_path, profiles, *name in graphs:
            if backend == "trt":
                _build_engine(config, onnx_path, profiles, args.fp16, name[0] if name else None)
            else:
                _prepare_session(onnx_path, _providers(args))
        done.append((target.name, [g[0] for g in graphs], time.perf_counter() - t0))
    bar.close()
    for name, paths, secs in done:
        print(f"  {name:12s} {secs:7.1f} s  " + ", ".join(paths))
    return 0


def _providers(args) -> list[str]:
    return [p.strip().lower() for p in args.providers.split(",") if p.strip()]


def _build_engine(config: RunConfig, onnx_path: str, profiles, fp16: bool, name=None) -> None:
    """The engine a run will look up: same ONNX, profiles, precision, name and cache folder."""
    from pathlib import Path

    from ..runtime.networks import artifacts_dir
    from ..runtime.tensorrt import EngineFromOnnx

    EngineFromOnnx(onnx_path, fp16=fp16, profiles=profiles, cache_dir=str(artifacts_dir(config) / "trt"),
                   name=name or Path(onnx_path).stem, log=print).serialized_engine()


def _prepare_session(onnx_path: str, providers: list[str]) -> None:
    """Create the session (loads, checks and optimises the graph) with the requested providers and
    report which ones ONNX Runtime really uses."""
    from ..runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx

    runner = OnnxrtRunner(SessionFromOnnx(onnx_path, providers=providers))
    with runner:
        used = runner.providers
    wanted = {p for p in providers if p != "cpu"}
    if wanted and used == ["CPUExecutionProvider"]:
        print(f"  note: {', '.join(sorted(wanted))} not available in this onnxruntime build; "
              f"{onnx_path} runs on CPU", file=sys.stderr)
