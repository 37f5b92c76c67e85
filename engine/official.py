"""The official model set (``--models official``): which stages run, and which networks ``build``
exports and compiles.

Stages: BootsTAPIR tracks (``--tracker bootstapir``; the flow tracker stays selectable), Depth-
Anything-V2 + DINOv2 features, the SegAnyMo classifier (``moseg.pth``) and the SAM2 densifier. Each
stage takes the :class:`~motionseg_trt.config.RunConfig`; the networks run on ``config.backend``.

``RunConfig.extra["random_weights"] = True`` builds every network with random weights of the
right shapes: it proves the plumbing, the shapes and backend parity on a machine without the
weight files, never quality.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .config import RunConfig
from .errors import UnavailableError


def _stage(module: str, attr: str, what: str):
    from .stages import _import

    return _import(module, attr, what)


def build_stages(config: RunConfig):
    """``(tracker, features, labeller, densifier)`` for ``--models official``."""
    from .features.extractor import OfficialFeatureExtractor
    from .stages import build_stages as build_any

    if config.tracker == "bootstapir":
        tracker = _stage("motionseg_trt.tracks.bootstapir.predictor", "BootsTapirTracker", "the BootsTAPIR tracker")(config)
    elif config.tracker == "flow":
        tracker = _stage("motionseg_trt.tracks.flow_tracker", "FlowTracker", "the flow tracker")(config)
    else:
        raise ValueError(f"unknown tracker {config.tracker!r}; choose bootstapir or flow")
    features = OfficialFeatureExtractor(config)
    if config.motion_model == "official":
        labeller = _stage("motionseg_trt.motion.classifier.labeller", "OfficialClassifierLabeller",
                          "the official motion classifier")(config)
    else:  # learned / geometric work on the same tracks and ignore the features
        labeller = build_any(_as_embedded(config)).labeller
    if config.densifier == "sam2":
        densifier = _stage("motionseg_trt.masks.sam2.densifier", "Sam2Densifier", "the SAM2 densifier")(config)
    else:
        densifier = _stage("motionseg_trt.masks.edge_fill", "EdgeFillDensifier", "the edge-fill densifier")(config)
    return tracker, features, labeller, densifier


def _as_embedded(config: RunConfig) -> RunConfig:
    import dataclasses

    return dataclasses.replace(config, models="embedded", tracker="flow", densifier="embedded")


# ---------------------------------------------------------------------------------------------
# What `motionseg-trt build` compiles


@dataclass
class BuildTarget:
    """One network of a model set. ``make_onnx(fp16)`` exports it (or finds the export) and returns
    ``[(onnx_path, tensorrt_profiles)]`` or ``[(onnx_path, profiles, engine_name)]`` (some networks
    are split into several graphs). The engine name defaults to the ONNX file's stem; it must be the
    name the stage gives its TensorRT loader, so that ``build`` and ``run`` share cache entries."""

    name: str
    make_onnx: Callable[[bool], list[tuple[str, Optional[dict]]]]
    note: str = ""
    meta: dict = field(default_factory=dict)


def _feature_targets(config: RunConfig, height: int, width: int) -> list[BuildTarget]:
    from .features.extractor import depth_network, dino_network
    from .runtime.networks import ensure_onnx

    targets = []
    for name, make in (("dino", dino_network), ("depth", depth_network)):
        def onnx(fp16, make=make):
            spec = make(config, height, width)  # resolves the weights: only for what is built
            return [(str(ensure_onnx(config, spec, fp16, log=lambda m: None)), spec.profiles)]

        targets.append(BuildTarget(name, onnx))
    return targets


def classifier_target(config: RunConfig, window: int, checkpoint: Optional[str] = None,
                      label: str = "classifier") -> BuildTarget:
    """The trajectory classifier: the official ``moseg.pth`` (or random weights), or our own weights
    (``checkpoint``) for the embedded set. Same network description as the labeller stage uses, so
    a run finds what ``build`` made."""
    from .runtime.networks import ensure_onnx

    def onnx(fp16, checkpoint=checkpoint):
        from .motion.classifier.labeller import MAX_TRACKS, classifier_network_spec, resolve_checkpoint

        if checkpoint is None:  # the official weights, chosen as the labeller stage chooses them
            checkpoint = resolve_checkpoint(config)
        model = _load_classifier(checkpoint)
        spec = classifier_network_spec(model.config, checkpoint, window, lambda: model,
                                       int((config.extra or {}).get("max_tracks", MAX_TRACKS)), label=label)
        return [(str(ensure_onnx(config, spec, fp16, log=lambda m: None)), spec.profiles)]

    return BuildTarget(label, onnx, f"T<= {window} frames")


def _load_classifier(checkpoint: Optional[str]):
    if checkpoint is None:
        import torch

        from .motion.classifier.modeling import TrajectoryClassifier

        torch.manual_seed(0)
        return TrajectoryClassifier().eval()
    from .motion.classifier.checkpoint import load_classifier

    return load_classifier(checkpoint).eval()


def tracker_target(config: RunConfig, window: int) -> BuildTarget:
    """BootsTAPIR's two graphs, with the engine names and shape profiles the tracker stage uses at
    run time (``tracks.bootstapir.predictor.build_engine``), so the engine cache entries match."""
    import dataclasses

    from .runtime.networks import artifacts_dir

    extra = config.extra or {}
    query_chunk = int(extra.get("tracker_query_chunk", 256))
    frame_chunk = max(1, int(extra.get("tracker_frame_chunk", 10)))

    def onnx(fp16):
        from motionseg_trt.export.tracker import export_tracker, read_tracker_onnx, weights_fingerprint

        from .tracks.bootstapir.predictor import build_model, trt_profiles

        out_dir = artifacts_dir(config) / "onnx" / "bootstapir"
        model = build_model(config)  # the stage's own choice of weights (checkpoint or random)
        info = read_tracker_onnx(out_dir, query_chunk=query_chunk, fp16=fp16,
                                 fingerprint=weights_fingerprint(model))
        if info is None:
            info = export_tracker(model, out_dir, query_chunk=query_chunk, fp16=fp16)
        # the stage's own profile definition (offline mode: windows up to tracker_max_frames, 512)
        feats, track = trt_profiles(dataclasses.replace(config, window=window), info.image_size, frame_chunk)
        return [(str(info.features), feats, "bootstapir_features"), (str(info.track), track, "bootstapir_track")]

    return BuildTarget("tracker", onnx, f"BootsTAPIR, {query_chunk} queries per chunk, T<= {window}")


def sam2_target(config: RunConfig, height: int, width: int) -> BuildTarget:
    def onnx(fp16):
        try:
            from motionseg_trt.export import sam2 as sam2_export
        except ModuleNotFoundError as exc:
            raise UnavailableError(f"SAM2 export is not part of this installation ({exc.name})") from None
        return sam2_export.build_targets(config, height, width, fp16)

    return BuildTarget("sam2", onnx, config.sam2_config)


def official_targets(config: RunConfig, height: int, width: int, window: int) -> list[BuildTarget]:
    """Every network of the official set, in pipeline order."""
    targets = []
    if config.tracker == "bootstapir":
        targets.append(tracker_target(config, window))
    targets += _feature_targets(config, height, width)
    targets.append(classifier_target(config, window))
    if config.densifier == "sam2":
        targets.append(sam2_target(config, height, width))
    return targets


def embedded_targets(config: RunConfig, height: int, width: int, window: int) -> list[BuildTarget]:
    """The embedded set's only network: our learned classifier (its weights ship in the package),
    described as the learned labeller describes it, so a run finds what ``build`` made."""
    import dataclasses
    import importlib.util

    from .runtime.networks import ensure_onnx
    from .stages import LEARNED_MODULE

    if importlib.util.find_spec(LEARNED_MODULE) is None:
        return []

    def onnx(fp16):
        from .motion.learned import learned_network_spec

        spec = learned_network_spec(dataclasses.replace(config, window=window))
        return [(str(ensure_onnx(config, spec, fp16, log=lambda m: None)), spec.profiles)]

    return [BuildTarget("learned_classifier", onnx, f"T<= {window} frames")]
