"""Which stage implementations a run uses: ``build_stages(config) -> Stages``.

Imports happen here, lazily, so that the CLI stays light and a model set that is not installed fails
with a clear one-line error instead of an ImportError at start-up.
"""
from __future__ import annotations

import importlib
from typing import NamedTuple

from .config import RunConfig
from .contracts import (Densifier, FeatureExtractor, FrameWindow, MotionLabeller, Tracker, Tracks,
                        WindowFeatures)
from .errors import ModelFileError, UnavailableError

MODEL_SETS = ("embedded", "official")
MOTION_MODELS = ("learned", "geometric", "official")
DENSIFIERS = ("embedded", "sam2")
LEARNED_MODULE = "motionseg_trt.motion.learned"


class Stages(NamedTuple):
    tracker: Tracker
    features: FeatureExtractor
    labeller: MotionLabeller
    densifier: Densifier


class NoFeatures:
    """The embedded model set uses neither depth nor DINO: every window has empty features."""

    def __init__(self, config: RunConfig | None = None):
        pass

    def extract(self, window: FrameWindow, tracks: Tracks) -> WindowFeatures:
        return WindowFeatures()


# The default is the labeller that measures best on real video (benchmarks/davis_eval.py on
# davis16-dev): the geometric baseline, until a learned version beats it (see docs/readme/learned.md).
DEFAULT_MOTION_MODEL = "geometric"


def default_motion_model() -> str:
    """The motion labeller used when ``--motion-model`` is not given (works with no download)."""
    return DEFAULT_MOTION_MODEL


def _import(module: str, attr: str, what: str, missing_error=UnavailableError):
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise missing_error(f"{what} is not part of this installation ({module} is missing)") from None
        raise UnavailableError(f"{what} needs the Python package '{exc.name}', which is not installed") from None
    return getattr(mod, attr)


def _construct(cls, config: RunConfig):
    try:
        return cls(config)
    except FileNotFoundError as exc:  # a weight / checkpoint / config file
        raise ModelFileError(f"{cls.__name__}: model file not found: {exc.filename or exc}") from None


def build_stages(config: RunConfig) -> Stages:
    from .runtime.device import check_device

    check_device(config)
    if config.models == "official":
        build = _import("motionseg_trt.official", "build_stages", "the official model set")
        try:
            tracker, features, labeller, densifier = build(config)
        except FileNotFoundError as exc:
            raise ModelFileError(f"official model set: file not found: {exc.filename or exc}") from None
        return Stages(tracker, features, labeller, densifier)
    if config.models != "embedded":
        raise ValueError(f"unknown model set {config.models!r}; choose one of {MODEL_SETS}")

    if config.tracker != "flow":
        raise UnavailableError(f"tracker {config.tracker!r} belongs to the official model set "
                               f"(--models official); the embedded set uses 'flow'")
    tracker = _construct(_import("motionseg_trt.tracks.flow_tracker", "FlowTracker", "the flow tracker"), config)
    features = NoFeatures(config)

    # The densifier before the labeller: the learned labeller's first run exports its graph (seconds),
    # and a bad densifier --option should fail before that, not after.
    if config.densifier == "embedded":
        densifier_cls = _import("motionseg_trt.masks.edge_fill", "EdgeFillDensifier", "the edge-fill densifier")
    elif config.densifier == "sam2":
        densifier_cls = _import("motionseg_trt.masks.sam2.densifier", "Sam2Densifier", "the SAM2 densifier")
    else:
        raise ValueError(f"unknown densifier {config.densifier!r}; choose one of {DENSIFIERS}")
    densifier = _construct(densifier_cls, config)

    if config.motion_model == "geometric":
        labeller_cls = _import("motionseg_trt.motion.geometric", "GeometricLabeller", "the geometric labeller")
    elif config.motion_model == "learned":
        labeller_cls = _import(LEARNED_MODULE, "LearnedLabeller", "the learned motion model",
                               missing_error=ModelFileError)
    elif config.motion_model == "official":
        labeller_cls = _import("motionseg_trt.motion.classifier.labeller", "OfficialClassifierLabeller",
                               "the official motion classifier")
    else:
        raise ValueError(f"unknown motion model {config.motion_model!r}; choose one of {MOTION_MODELS}")
    labeller = _construct(labeller_cls, config)
    return Stages(tracker, features, labeller, densifier)
