"""``--motion-model official``: the SegAnyMo classifier as the engine's motion-labelling stage.

``OfficialClassifierLabeller(config).label(window, tracks, features) -> MotionLabels``:

1. preprocessing of the window's :class:`Tracks` (+ depth / DINO :class:`WindowFeatures`) exactly as
   the official pipeline (``preprocess.prepare_from_tracks``; option ``depth_sampling`` =
   ``official`` (default: the released weights were trained with it) or ``correct``);
2. the network through the runtime layer, on the configured backend (the ONNX export is made on
   first use in the artifact folder that ``motionseg-trt build`` fills);
3. the official selection rule (``select.select_moving``).

Tracks with no visible frame get probability 0 and are never moving (the official code drops them).
More than ``max_tracks`` (5000, the official cap) tracks are split into random groups of at most that
size (fixed seed) and each group is classified on its own, so every track gets a label; the
official code instead keeps a random 5000 and drops the rest. On a backend that holds the across-track
attention weights in memory ([T*4, N, N] float32: ONNX Runtime on a CPU), groups are also kept small
enough to fit half the available memory (option ``attention_budget_gb`` overrides), instead of failing.

:class:`ClassifierLabellerCore` is the reusable part (any ``TrajectoryClassifier`` / runner +
preprocessing + selection) for labellers running our own weights.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np

from ...contracts import MotionLabels
from ...options import ENGINE_OPTIONS, Option, read_option, read_options
from .preprocess import ModelInputs, PreprocessConfig, ensure_visible_per_frame, prepare_from_tracks
from .select import select_moving

MAX_TRACKS = 5000
OUTPUT_NAMES = ("logits", "prob")
OPTIONS = (
    Option("depth_sampling", "official", "how depth is sampled at the tracks: as the official code does "
                                         "([-1,1] coordinates read as [0,1]; the released weights were trained "
                                         "with it) or correct", choices=("official", "correct")),
    Option("depth_png_quirk", True, "reproduce the official 16-bit depth PNGs read as 8 bit"),
    Option("max_tracks", MAX_TRACKS, "tracks classified together at most (more are split into random groups)",
           minimum=1),
    Option("attention_budget_gb", None, "memory the across-track attention may take where a backend holds it "
                                        "(ONNX Runtime on a CPU; default: half the available memory)",
           kind=float, positive=True),
)


class ClassifierLabellerCore:
    """Preprocessing + prediction + selection around any classifier predictor.

    ``predictor``: a :class:`~.predictor.ClassifierPredictor`; ``preprocess``: what to build (use
    ``PreprocessConfig.for_model(model.config)``)."""

    def __init__(self, predictor, preprocess: PreprocessConfig, max_tracks: int = MAX_TRACKS, seed: int = 0,
                 attention_budget_bytes: Optional[int] = None, motion_heads: int = 4):
        self.predictor = predictor
        self.preprocess = preprocess
        self.max_tracks = int(max_tracks)
        self.seed = seed
        # runtimes without a fused attention kernel hold [T * heads, N, N] float32 scores (and as much
        # again for the softmax): cap the group size so that this fits the given budget
        self.attention_budget_bytes = attention_budget_bytes
        self.motion_heads = motion_heads

    def group_size(self, num_frames: int) -> int:
        """Largest number of tracks classified together for clips of ``num_frames`` frames."""
        if not self.attention_budget_bytes:
            return self.max_tracks
        per_pair = 2 * max(1, num_frames) * self.motion_heads * 4
        return max(16, min(self.max_tracks, int((self.attention_budget_bytes / per_pair) ** 0.5)))

    def probabilities(self, tracks, features=None, image_hw=None) -> np.ndarray:
        """Per-track probability ``[N]`` (0 for tracks that are never visible)."""
        n = tracks.num_tracks
        prob = np.zeros(n, np.float32)
        if n == 0:
            return prob
        prepared = prepare_from_tracks(tracks, features, image_hw, self.preprocess)
        if len(prepared.kept) == 0:
            return prob
        prob[prepared.kept] = self._predict_grouped(prepared.inputs)
        return prob

    def label(self, window, tracks, features=None) -> MotionLabels:
        image_hw = tuple(window.frames.shape[1:3]) if window is not None else None
        prob = self.probabilities(tracks, features, image_hw)
        candidates = np.asarray(tracks.visible, bool).any(axis=1) if tracks.num_tracks else np.zeros(0, bool)
        moving = np.zeros(tracks.num_tracks, bool)
        threshold = 1.0
        if candidates.any():
            sel = select_moving(prob[candidates], tracks.num_frames)
            moving[np.flatnonzero(candidates)[sel.moving]] = True
            # the top-3 fallback has no threshold: report the lowest selected probability instead
            threshold = sel.threshold_used if sel.threshold_used >= 0 else float(prob[moving].min())
        return MotionLabels(prob=prob, moving=moving, threshold=float(threshold))

    def _predict_grouped(self, inputs: ModelInputs) -> np.ndarray:
        n = inputs.num_tracks
        size = self.group_size(inputs.traj.shape[1])
        if n <= size:
            return self.predictor.predict(inputs)[0]
        groups = np.array_split(np.random.default_rng(self.seed).permutation(n), -(-n // size))
        out = np.zeros(n, np.float32)
        for idx in groups:
            idx = np.sort(idx)
            sub = _subset(inputs, idx)
            out[idx] = self.predictor.predict(sub)[0]
        return out


def _subset(inputs: ModelInputs, idx: np.ndarray) -> ModelInputs:
    """A group of tracks, with the one-visible-point-per-frame rule applied again within the group."""
    pick = {k: (None if v is None else v[idx]) for k, v in vars(inputs).items()}
    sub = ModelInputs(**pick)
    confi = sub.confi_value if sub.confi_value is not None else np.zeros_like(sub.mask)
    visible = ensure_visible_per_frame(sub.mask < 0.5, confi)
    return replace(sub, mask=(~visible).astype(np.float32))


def classifier_graph(label: str, model_config, checkpoint: Optional[str], window: int, load_model,
                     max_tracks: int = MAX_TRACKS):
    """The runtime layer's description of the classifier graph. ``load_model()`` gives the PyTorch
    module; it is called only to export the graph or to run it on PyTorch, so that a run whose graph
    is already exported never imports torch."""
    from ...runtime.network import Graph, weights_tag

    t = max(2, int(window))
    profiles = {}
    for name in model_config.input_names:
        if name == "traj":
            profiles[name] = ((1, 1, 2, 2), (1, max_tracks, t, 2), (1, max_tracks, t, 2))
        elif name == "dino":
            d = model_config.dino_dim
            profiles[name] = ((1, 1, d), (1, max_tracks, d), (1, max_tracks, d))
        else:
            profiles[name] = ((1, 1, 2), (1, max_tracks, t), (1, max_tracks, t))

    def export(path: str, fp16: bool) -> str:
        from motionseg_trt.export.classifier import export_classifier

        return export_classifier(load_model(), path, fp16=fp16)

    def module():
        from .modeling import ClassifierGraph

        return ClassifierGraph(load_model()).eval()

    return Graph(name=f"{label}_{weights_tag(checkpoint)}", part=label, input_names=list(model_config.input_names),
                 output_names=list(OUTPUT_NAMES), export=export, module=module, profiles=profiles,
                 info={"config": model_config.to_dict()})


def clip_frames(config) -> int:
    """The frames a classifier graph is shaped for: ``clip_frames``, else the window."""
    return int(read_option(config, ENGINE_OPTIONS, "clip_frames") or config.window)


def official_classifier_network(config, model=None):
    """The official classifier of ``config`` (``build`` and the labeller ask for the same graph): the
    weights :func:`resolve_checkpoint` picks, ``model`` when the labeller has loaded them already."""
    from ...runtime.network import NetworkSpec

    window = clip_frames(config)

    def describe():
        checkpoint = resolve_checkpoint(config)
        net = model if model is not None else load_classifier_or_random(checkpoint)
        return [classifier_graph("classifier", net.config, checkpoint, window, lambda: net,
                                 read_option(config, OPTIONS, "max_tracks"))]

    return NetworkSpec("classifier", describe, f"T<= {window} frames")


class OfficialClassifierLabeller:
    """The official classifier (``moseg.pth``) as a :class:`~motionseg_trt.contracts.MotionLabeller`."""

    OPTIONS = OPTIONS

    def __init__(self, config, log=None):
        from ...runtime.dispatch import make_runner
        from .predictor import ClassifierPredictor

        opt = read_options(config, OPTIONS)
        checkpoint = resolve_checkpoint(config)
        self.model = load_classifier_or_random(checkpoint)
        self.checkpoint = checkpoint
        preprocess = PreprocessConfig.for_model(self.model.config, depth_sampling=opt["depth_sampling"],
                                                depth_png_quirk=opt["depth_png_quirk"])
        runner = make_runner(config, official_classifier_network(config, self.model), log=log or (lambda m: None))
        self.core = ClassifierLabellerCore(ClassifierPredictor(runner, input_names=list(self.model.input_names)),
                                           preprocess, max_tracks=opt["max_tracks"],
                                           attention_budget_bytes=_attention_budget(config, opt["attention_budget_gb"]),
                                           motion_heads=self.model.config.motion_heads)

    @classmethod
    def network_specs(cls, config, frame_hw):
        return [official_classifier_network(config)]

    @classmethod
    def weight_needs(cls, config) -> list:
        """The checkpoint :func:`resolve_checkpoint` will load."""
        from ...official_weights import WeightNeed

        if not config.classifier_checkpoint and read_option(config, ENGINE_OPTIONS, "random_weights"):
            return []
        return [WeightNeed("SegAnyMo motion classifier (moseg.pth)", "moseg", config.classifier_checkpoint,
                           "--classifier-checkpoint PATH")]

    def label(self, window, tracks, features) -> MotionLabels:
        return self.core.label(window, tracks, features)


def _attention_budget(config, gb: Optional[float] = None) -> Optional[int]:
    """Memory the unfused attention may take, where the backend holds it (torch uses a fused kernel,
    TensorRT fuses the pattern): ``gb`` (option ``attention_budget_gb``), else half of the memory
    available now."""
    from ...runtime.backends import get_backend

    if not get_backend(config.backend).holds_attention_matrices(config):
        return None
    if gb:
        return int(float(gb) * 2**30)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return 4 * 2**30


def resolve_checkpoint(config) -> Optional[str]:
    """The classifier weights of a run (and of ``build``): an explicit ``classifier_checkpoint``
    wins, as the feature stages' explicit paths do; else None (seeded random weights) with
    ``random_weights``; else the downloaded ``moseg.pth`` (or a clear error)."""
    from ...official_weights import resolve_weight

    if not config.classifier_checkpoint and read_option(config, ENGINE_OPTIONS, "random_weights"):
        return None
    return resolve_weight("moseg", config.classifier_checkpoint, config.weights_dir)


def load_classifier_or_random(checkpoint: Optional[str]):
    """The classifier of ``checkpoint``, or (None) the seeded random weights of the official shapes
    (plumbing checks only: ``build --random-weights`` exports the same)."""
    if checkpoint is None:
        import torch

        from .modeling import TrajectoryClassifier

        torch.manual_seed(0)
        return TrajectoryClassifier().eval()
    from .checkpoint import load_classifier

    return load_classifier(checkpoint)
