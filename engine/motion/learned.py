"""The learned motion labeller: the paper's trajectory classifier with our own weights.

The shipped weights (``motionseg_trt/weights/embedded_classifier_v2.safetensors``) were trained on
procedurally generated clips by the training package (``training/`` of a source checkout,
``motionseg-trt train``); the model card next to them says how. They use no DINO and no real depth, which the embedded stack does not
have: their depth slot carries the geometric labeller's per-frame camera-model residuals, and the
geometric logit is added to theirs as a prior (weights metadata ``evidence = camera_residual``,
:mod:`.residual_features`), so the model learns to correct the camera model. Weights without that
metadata key are scored from the tracks alone. Option ``learned_weights`` points at another weights
file written by ``motionseg-trt train``.

Tracks are scored in random chunks of about ``learned_chunk`` tracks (128: the number per window the
model saw in each training step): the attention across tracks then sees the context it was trained
with, and the cost stays linear in the number of tracks. With camera-residual evidence, only the
tracks whose geometric prior logit exceeds ``learned_min_prior_logit`` (-2) are scored: the shipped
model's own logit stays within a few units of its prior, so a track below -2 can never reach the 0.95
threshold. Such a track keeps the geometric probability; skipping it makes the labeller several
times faster. The moving set is
``prob > learned_threshold``, with the official fallback to the top 3 tracks when fewer than
``learned_min_tracks`` pass (so that the densifier still gets the most likely object rather than
nothing only when the model is confident).

The network runs through the runtime layer (:func:`learned_network`): on a backend that runs exported
graphs it is exported to ONNX once per weights file (in the engine cache, as ``build`` does). The
network's shape comes from the weights file's metadata (:func:`read_weights_config`), so once the
graph is exported a run never imports torch (seconds of a short clip's start-up).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, MotionLabels, Tracks, WindowFeatures
from ..errors import ModelFileError
from ..options import Option, read_option, read_options

WEIGHTS_NAME = "embedded_classifier_v2.safetensors"
# Weights metadata "evidence": the depth slot carries the geometric camera-model residuals per frame
# and the geometric logit is a prior (motionseg_trt.motion.residual_features); "camera_stabilised"
# also gives the model the tracks with the camera's motion taken out instead of the raw ones.
CAMERA_RESIDUAL = "camera_residual"
CAMERA_STABILISED = "camera_stabilised"
EVIDENCE_KINDS = ("", CAMERA_RESIDUAL, CAMERA_STABILISED)
OPTIONS = (
    Option("learned_weights", None, "weights file written by `motionseg-trt train` (default: the shipped v2)",
           kind=str),
    Option("learned_threshold", 0.5, "moving-track threshold (default: the one stored with the weights)",
           minimum=0.0, maximum=1.0),
    Option("learned_min_tracks", 10, "fewer passing tracks than this: the top 3 above half the threshold",
           minimum=0),
    # the number of tracks per window the shipped weights saw in each training step (TrainConfig.tracks):
    # the context they were trained with, and the cross-track attention costs the square of it
    Option("learned_chunk", 128, "tracks scored together (random chunks of about this many)", minimum=1),
    Option("learned_seed", 0, "seed of the chunks' shuffle (plus the window index)"),
    # tracks at or below the gate keep the geometric probability; -12 (the prior's bound) scores every track
    Option("learned_min_prior_logit", -2.0, "with camera-residual evidence: only tracks whose geometric prior "
                                            "logit exceeds this are scored"),
)


def default_weights_path() -> Path:
    return Path(__file__).resolve().parent.parent / "weights" / WEIGHTS_NAME


def read_weights_config(path=None):
    """The ``ClassifierConfig`` and metadata of a weights file, without reading its tensors (and
    without torch)."""
    from safetensors import safe_open

    from .classifier.checkpoint import CONFIG_METADATA_KEY
    from .classifier.config import ClassifierConfig

    path = Path(path) if path else default_weights_path()
    if not path.is_file():
        raise ModelFileError(f"learned classifier weights not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001  (a corrupt or foreign file)
        raise ModelFileError(f"cannot read learned classifier weights {path}: {exc}") from exc
    config = meta.get("config", meta.get(CONFIG_METADATA_KEY))
    if config is None:
        raise ModelFileError(f"{path} has no classifier config in its metadata (not written by motionseg-trt train)")
    try:
        return ClassifierConfig.from_dict(json.loads(config)), meta
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: bad classifier config in its metadata: {exc}") from None


def load_weights(path=None):
    """``TrajectoryClassifier`` (eval mode) and the file's metadata from a weights file."""
    from safetensors import safe_open

    from .classifier.modeling import TrajectoryClassifier

    path = Path(path) if path else default_weights_path()
    config, meta = read_weights_config(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001  (a corrupt or foreign file)
        raise ModelFileError(f"cannot read learned classifier weights {path}: {exc}") from exc
    model = TrajectoryClassifier(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelFileError(f"{path} does not match its config: missing {sorted(missing)[:5]}, "
                             f"unexpected {sorted(unexpected)[:5]}")
    return model.eval(), meta


def track_rows(tracks: Tracks, rows: np.ndarray) -> Tracks:
    """The tracks ``rows`` only, without a tracker's soft visibility / confidence values: these weights
    were trained on the flow tracker's boolean visibility and confidence, so they are scored on those."""
    return Tracks(xy=tracks.xy[rows], visible=tracks.visible[rows], confidence=tracks.confidence[rows],
                  ids=tracks.ids[rows], query_frame=tracks.query_frame[rows])


def score_tracks(predictor, tracks: Tracks, image_hw, chunk: int = 128, seed: int = 0,
                 evidence=None, min_prior_logit: Optional[float] = None) -> np.ndarray:
    """Probability that each track moves on its own, ``[N]`` float32 (0 for tracks never visible).

    ``predictor`` is a ``ClassifierPredictor`` or a ``TrajectoryClassifier``. Tracks are shuffled
    with ``seed`` and scored in near-equal chunks of at most ``chunk``. ``evidence`` (a
    :class:`.residual_features.CameraResidualEvidence` of all the window's tracks) is given for weights
    trained with camera-residual evidence: its per-frame residual fills the depth slot and its prior
    logit is added to the model's logit. With ``min_prior_logit`` too, only the tracks whose prior
    logit exceeds it are scored (among themselves); the others get the prior's probability.
    """
    if evidence is not None and min_prior_logit is not None:
        prior = np.asarray(evidence.prior_logit, np.float64)
        prob = (1.0 / (1.0 + np.exp(-prior))).astype(np.float32)
        prob[~np.asarray(tracks.visible, bool).any(1)] = 0.0
        rows = np.flatnonzero(prior > min_prior_logit)
        if len(rows):
            prob[rows] = score_tracks(predictor, track_rows(tracks, rows), image_hw, chunk, seed,
                                      evidence.subset(rows))
        return prob
    from .classifier.predictor import ClassifierPredictor
    from .classifier.preprocess import PreprocessConfig, prepare_from_tracks
    from .residual_features import apply_evidence

    if not isinstance(predictor, ClassifierPredictor):
        predictor = ClassifierPredictor(predictor)
    model_config = _model_config(predictor)
    n = tracks.num_tracks
    prob = np.zeros(n, np.float32)
    if n == 0:
        return prob
    order = np.random.default_rng(seed).permutation(n)
    n_chunks = max(1, int(np.ceil(n / max(1, chunk))))
    if evidence is not None and not model_config.use_depth:
        raise ValueError("camera-residual evidence goes in the depth slot: these weights have none")
    # with evidence, the depth slot is filled from it below rather than sampled from depth maps
    pcfg = PreprocessConfig.for_model(model_config, use_depth=model_config.use_depth and evidence is None)
    for part in np.array_split(order, n_chunks):
        part = np.sort(part)
        prepared = prepare_from_tracks(track_rows(tracks, part), None, image_hw=image_hw, cfg=pcfg)
        if prepared.inputs.num_tracks == 0:
            continue
        rows = part[prepared.kept]
        if evidence is None:
            p, _ = predictor.predict(prepared.inputs)
        else:
            prior = apply_evidence(prepared.inputs, evidence, rows, image_hw)
            _, logits = predictor.predict(prepared.inputs)
            p = 1.0 / (1.0 + np.exp(-(logits.astype(np.float64) + prior)))
        prob[rows] = p
    return prob


def _model_config(predictor):
    cfg = getattr(predictor, "model_config", None)
    if cfg is None:
        cfg = getattr(predictor.network, "config", None)
    if cfg is None:
        raise ValueError("cannot tell which inputs the classifier needs")
    return cfg


def select(prob: np.ndarray, threshold: float, min_tracks: int) -> np.ndarray:
    """``prob > threshold``; when fewer than ``min_tracks`` pass but some track is above half the
    threshold, the top 3 (the official fallback, restricted to plausible tracks)."""
    moving = prob > threshold
    if moving.sum() < min_tracks:
        top = np.argsort(-prob, kind="stable")[:3]
        top = top[prob[top] > threshold / 2]
        moving = np.zeros_like(moving)
        moving[top] = True
    return moving


class LearnedLabeller:
    """``MotionLabeller`` with the shipped (or given) learned weights."""

    OPTIONS = OPTIONS

    def __init__(self, config: Optional[RunConfig] = None):
        from ..runtime.dispatch import make_runner
        from .classifier.predictor import ClassifierPredictor

        config = config or RunConfig()
        self.config = config
        self.weights_path = weights_path_of(config)
        self.model_config, self.metadata = read_weights_config(self.weights_path)
        # the threshold chosen on the weights' validation clips (model card) unless overridden
        stored = {"learned_threshold": float(self.metadata["threshold"])} if "threshold" in self.metadata else None
        opt = read_options(config, OPTIONS, defaults=stored)
        self.threshold = opt["learned_threshold"]
        self.min_tracks = opt["learned_min_tracks"]
        self.chunk = opt["learned_chunk"]
        self.seed = opt["learned_seed"]
        self.min_prior_logit = opt["learned_min_prior_logit"]
        # what the depth slot carries: "" (nothing / real depth) or camera-residual evidence
        self.evidence = self.metadata.get("evidence", "")
        if self.evidence not in EVIDENCE_KINDS:
            raise ModelFileError(f"{self.weights_path}: unknown evidence {self.evidence!r}")
        # the camera evidence's labeller, made (and its options checked) before any slow export
        from .geometric import GeometricLabeller

        self.geometric = GeometricLabeller(config) if self.evidence else None
        # the PyTorch module is loaded only to export the graph (first run) or to run it on PyTorch
        spec = learned_network(config, self.weights_path, self.model_config, self._load_model)
        runner = make_runner(config, spec, log=_say_first_run)
        self.predictor = ClassifierPredictor(runner, input_names=self.model_config.input_names)
        self.predictor.model_config = self.model_config

    @classmethod
    def network_specs(cls, config: RunConfig, frame_hw) -> list:
        return [learned_network(config)]

    def _load_model(self):
        if self.config.threads:
            import torch

            torch.set_num_threads(int(self.config.threads))
        model, _ = load_weights(self.weights_path)
        return model

    def label(self, window: FrameWindow, tracks: Tracks, features: WindowFeatures) -> MotionLabels:
        hw = window.frames.shape[1:3]
        evidence = None
        if self.evidence:
            from .residual_features import PRIOR_LOGIT_BOUND, camera_residual_evidence

            evidence = camera_residual_evidence(tracks, hw, self.config, labeller=self.geometric,
                                                stabilise=self.evidence == CAMERA_STABILISED,
                                                frame_interval=window.frame_interval)
            self.geometric.count_failures(window)
        gate = self.min_prior_logit if evidence is not None and self.min_prior_logit > -PRIOR_LOGIT_BOUND else None
        prob = score_tracks(self.predictor, tracks, hw, chunk=self.chunk, seed=self.seed + window.index,
                            evidence=evidence, min_prior_logit=gate)
        moving = select(prob, self.threshold, self.min_tracks)
        return MotionLabels(prob=prob, moving=moving, threshold=self.threshold)

    def warnings(self) -> list[str]:
        """The camera model's (when the weights use its evidence)."""
        return self.geometric.warnings() if self.geometric is not None else []


def _say_first_run(message: str) -> None:
    # the runtime layer speaks only when it exports the graph (about 20 s on 2 CPU cores) or builds an
    # engine, which happens on the first run of a weights file: say why that run waits
    print(f"motionseg-trt: {message} (first run of these weights only; `motionseg-trt build --models embedded` "
          f"does it ahead)", file=sys.stderr)


def weights_path_of(config: RunConfig) -> Path:
    """The weights a run uses: option ``learned_weights``, else the shipped file."""
    return Path(read_option(config, OPTIONS, "learned_weights") or default_weights_path())


def learned_network(config: RunConfig, weights_path=None, model_config=None, load_model=None):
    """The runtime layer's description of the learned classifier (``build`` asks for the same, so a
    run finds the graph and engine it made): at most ``learned_chunk`` tracks (it scores in chunks) and
    the window's frames (the whole clip with ``clip_frames``, offline)."""
    from ..runtime.network import NetworkSpec
    from .classifier.labeller import classifier_graph, clip_frames

    weights_path = Path(weights_path or weights_path_of(config))
    chunk = read_option(config, OPTIONS, "learned_chunk")
    window = clip_frames(config)

    def describe():
        cfg = model_config if model_config is not None else read_weights_config(weights_path)[0]
        load = load_model if load_model is not None else (lambda: load_weights(weights_path)[0])
        return [classifier_graph("learned_classifier", cfg, str(weights_path), window, load, max_tracks=chunk)]

    return NetworkSpec("learned_classifier", describe, f"T<= {window} frames")
