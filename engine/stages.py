"""The stage registry: every stage a run can use, one row each, and ``build_stages(config)``.

A row names the stage as the command line does (``--tracker flow``, ``--motion-model learned`` ...),
says where its class lives, which model sets it belongs to (``build --models SET`` compiles the
networks of the set's stages; the set's default for each kind is what ``run --models SET`` uses) and
which features stage's output it reads. From the table come the command line's choices, the stages
of a run, the networks ``build`` compiles and the options ``run --list-options`` prints.

A stage class is constructed with the run's :class:`~motionseg_trt.config.RunConfig` and may declare

* ``OPTIONS``: its settings (:class:`~motionseg_trt.options.Option`), read with
  :func:`~motionseg_trt.options.read_options`;
* ``network_specs(config, frame_hw)`` (a classmethod): the networks it runs, as
  :class:`~motionseg_trt.runtime.network.NetworkSpec` objects, the same for ``run`` and ``build``.

A new labeller is one module and one row. Classes are imported only when a run uses them (or when
the options are listed), so a stage whose package is missing fails with one line, not at start-up.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import NamedTuple, Optional

from .config import RunConfig
from .contracts import Densifier, FeatureExtractor, MotionLabeller, Tracker
from .errors import ModelFileError, OptionError, UnavailableError

KINDS = ("tracker", "features", "labeller", "densifier")  # in the order data flows through them


@dataclass(frozen=True)
class Stage:
    kind: str  # one of KINDS
    name: str  # the command line's choice
    target: str  # "module:Class"
    sets: tuple[str, ...]  # the model sets it belongs to
    default_in: tuple[str, ...] = ()  # the sets whose default it is (for its kind)
    needs: Optional[str] = None  # the features stage whose output it reads
    # refuses to run in another set (exit code 2 before any work: the embedded set promises no download,
    # and these need the official weights); else any set may use it when asked for
    only_in_sets: bool = False
    help: str = ""

    def load(self) -> type:
        module, _, attr = self.target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                raise UnavailableError(f"{self.kind} {self.name!r} is not part of this installation "
                                       f"({module} is missing)") from None
            raise UnavailableError(f"{self.kind} {self.name!r} needs the Python package '{exc.name}', "
                                   f"which is not installed") from None
        return getattr(mod, attr)

    def options(self) -> tuple:
        return tuple(getattr(self.load(), "OPTIONS", ()))


STAGES: list[Stage] = [
    Stage("tracker", "flow", "motionseg_trt.tracks.flow_tracker:FlowTracker", ("embedded", "official"),
          default_in=("embedded",), help="OpenCV DIS optical flow chained into long-range tracks"),
    Stage("tracker", "bootstapir", "motionseg_trt.tracks.bootstapir.predictor:BootsTapirTracker", ("official",),
          default_in=("official",), only_in_sets=True, help="BootsTAPIR, the official neural tracker"),
    Stage("features", "none", "motionseg_trt.features.none:NoFeatures", ("embedded",),
          default_in=("embedded",), help="no depth, no DINO"),
    Stage("features", "appearance", "motionseg_trt.features.appearance.stage:AppearanceFeatures", ("embedded",),
          help="U²-Netp saliency and EfficientNet-Lite0 features on key frames, carried along the flow"),
    Stage("features", "official", "motionseg_trt.features.extractor:OfficialFeatureExtractor", ("official",),
          default_in=("official",), only_in_sets=True, help="Depth-Anything-V2 disparity and DINOv2 key features"),
    Stage("labeller", "geometric", "motionseg_trt.motion.geometric:GeometricLabeller", ("embedded",),
          default_in=("embedded",), help="camera-model residuals (RANSAC homographies); the default (with "
                                         "--densifier embedded: the pipeline of before the appearance cues)"),
    Stage("labeller", "learned", "motionseg_trt.motion.learned:LearnedLabeller", ("embedded",),
          help="the paper's classifier with our weights, trained on generated clips"),
    Stage("labeller", "appearance", "motionseg_trt.motion.learned:AppearanceLabeller", ("embedded",),
          needs="appearance", help="the paper's classifier with our backbone in its DINO slot, trained on DAVIS-2016 "
                                   "train (non-commercial weights)"),
    Stage("labeller", "official", "motionseg_trt.motion.classifier.labeller:OfficialClassifierLabeller",
          ("official",), default_in=("official",), needs="official", only_in_sets=True,
          help="the paper's classifier with the official moseg.pth"),
    Stage("densifier", "embedded", "motionseg_trt.masks.edge_fill:EdgeFillDensifier", ("embedded", "official"),
          help="edge-aware fill of the moving tracks"),
    Stage("densifier", "appearance", "motionseg_trt.masks.appearance_fill:AppearanceFillDensifier", ("embedded",),
          default_in=("embedded",), needs="appearance", help="the edge-aware fill, then salient and moving regions kept by a region classifier"),
    Stage("densifier", "sam2", "motionseg_trt.masks.sam2.densifier:Sam2Densifier", ("official",),
          default_in=("official",), help="SAM2 iterative prompting"),
]


def stages_of(kind: str) -> list[Stage]:
    return [s for s in STAGES if s.kind == kind]


def names(kind: str) -> list[str]:
    return [s.name for s in stages_of(kind)]


def model_sets() -> list[str]:
    return sorted({m for s in STAGES for m in s.sets})


def stage(kind: str, name: str) -> Stage:
    for s in stages_of(kind):
        if s.name == name:
            return s
    raise OptionError(f"unknown {kind} {name!r}; choose one of {', '.join(names(kind))}")


def default_stage(kind: str, models: str) -> str:
    """The stage of ``kind`` that ``run --models models`` uses when none is asked for."""
    for s in stages_of(kind):
        if models in s.default_in:
            return s.name
    raise OptionError(f"unknown model set {models!r}; choose one of {', '.join(model_sets())}")


def default_motion_model() -> str:
    """The motion labeller used when ``--motion-model`` is not given (works with no download)."""
    return default_stage("labeller", "embedded")


def chosen(config: RunConfig) -> dict[str, Stage]:
    """The stage of each kind a run of ``config`` uses, from its fields, the model set's defaults and
    what the labeller and densifier need from the features stage."""
    picks = {"tracker": stage("tracker", config.tracker), "labeller": stage("labeller", config.motion_model),
             "densifier": stage("densifier", config.densifier)}
    for s in picks.values():
        _check_set(s, config.models)
    if config.features is not None:
        _check_set(stage("features", config.features), config.models)
    needed = {s.needs for s in picks.values() if s.needs}
    if len(needed) > 1:
        raise OptionError(f"the labeller and the densifier need different features ({', '.join(sorted(needed))}); "
                          f"a run has one features stage: choose a densifier that needs none (--densifier embedded)")
    if config.features is not None:
        features = config.features
        if needed and features not in needed:
            raise OptionError(f"--features {features}: the {'labeller' if picks['labeller'].needs else 'densifier'} "
                              f"needs --features {needed.pop()}")
    else:
        features = needed.pop() if needed else default_stage("features", config.models)
    picks["features"] = stage("features", features)
    _check_set(picks["features"], config.models)
    return {kind: picks[kind] for kind in KINDS}


FLAGS = {"tracker": "--tracker", "features": "--features", "labeller": "--motion-model", "densifier": "--densifier"}


def _check_set(s: Stage, models: str) -> None:
    if s.only_in_sets and models not in s.sets:
        raise OptionError(f"{FLAGS[s.kind]} {s.name} belongs to the {' / '.join(s.sets)} model set: add "
                          f"--models {s.sets[0]} (the {models} set uses {FLAGS[s.kind]} "
                          f"{default_stage(s.kind, models)})")


class Stages(NamedTuple):
    tracker: Tracker
    features: FeatureExtractor
    labeller: MotionLabeller
    densifier: Densifier


def _construct(cls, config: RunConfig):
    try:
        return cls(config)
    except FileNotFoundError as exc:  # a weight / checkpoint / config file
        raise ModelFileError(f"{cls.__name__}: model file not found: {exc.filename or exc}") from None


def has_networks(cls) -> bool:
    return callable(getattr(cls, "network_specs", None))


def build_stages(config: RunConfig) -> Stages:
    """The stages of a run, constructed in the order that fails fastest: the producers of data first,
    then the densifier, then the labeller (the learned labeller's first run exports its graph: a bad
    densifier setting should not wait for that)."""
    from .options import check_options
    from .runtime.backends import get_backend

    check_options(config)
    picks = chosen(config)
    classes = {kind: s.load() for kind, s in picks.items()}
    check_weights_of(config, classes.values())  # every missing file in one message, before any export
    backend = get_backend(config.backend)
    backend.check_device(config)
    if any(has_networks(cls) for cls in classes.values()):
        backend.check_installed()  # before any output or export, not at the first window
    built = {kind: _construct(classes[kind], config) for kind in ("tracker", "features", "densifier", "labeller")}
    return Stages(**built)


def check_weights_of(config: RunConfig, classes) -> None:
    """Raise one :class:`ModelFileError` naming every weight file the stage classes would load and
    cannot find (each stage says which with its classmethod ``weight_needs(config)``)."""
    from .official_weights import check_weights

    needs = [need for cls in classes for need in (cls.weight_needs(config) if hasattr(cls, "weight_needs") else [])]
    check_weights(needs, config.weights_dir)


def classes_of_set(config: RunConfig, picks: dict) -> list[type]:
    """The stage classes ``build`` prepares: for each kind, the stage ``picks`` names, else every
    stage of ``config.models``, in pipeline order."""
    classes = []
    for kind in KINDS:
        rows = [stage(kind, picks[kind])] if picks.get(kind) else [s for s in stages_of(kind) if config.models in s.sets]
        classes += [row.load() for row in rows]
    return classes


def network_specs_of_set(config: RunConfig, picks: dict, frame_hw: tuple[int, int]) -> list:
    """The networks ``build`` compiles (each stage's own ``network_specs``, as a run asks for them)."""
    return [spec for cls in classes_of_set(config, picks) if has_networks(cls)
            for spec in cls.network_specs(config, frame_hw)]


def runtime_warnings(config: RunConfig, stage_objects) -> list[str]:
    """What a run's ``--backend`` / ``--device`` did not do: a run whose stages run no network at all
    runs on the CPU whatever they say, and says so (stderr, ``run.json``) rather than nothing."""
    if any(has_networks(type(s)) for s in stage_objects):
        return []
    from .runtime.backends import DEFAULT_BACKEND, get_backend

    asked = []
    if config.backend != DEFAULT_BACKEND:
        asked.append(f"--backend {config.backend}")
    if str(config.device).startswith("cuda"):
        asked.append(f"--device {config.device}")
    if not asked:
        return []
    names = ", ".join(f"{type(s).__name__}" for s in stage_objects)
    title = get_backend(config.backend).title
    return [f"{' and '.join(asked)}: no stage of this run runs a network ({names}), so nothing ran on "
            f"{title if config.backend != DEFAULT_BACKEND else 'the GPU'}; the whole run was on the CPU "
            f"(the learned labeller or the official set's stages run networks)"]
