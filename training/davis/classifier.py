"""The appearance classifier: the trajectory classifier with the appearance stage's key-frame maps in
its DINO slot, trained on DAVIS tracks labelled by the ground-truth mask under each track at its query
frame (as the paper labels its training tracks).

It starts from the procedural weights (``embedded_classifier_v2``): every tensor of the same shape is
copied, and the decoder's feed-forward input, which grows by the maps' channels, gets zeros for them,
so training starts from v2's exact outputs and learns what appearance adds. The same preprocessing as
at inference (``prepare_from_tracks`` with the window's maps, the camera residuals in the depth slot,
the geometric prior added to the logit) builds every batch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .cache import ClipCache, Window


@dataclass
class ClassifierTraining:
    steps: int = 120
    batch: int = 4  # windows per step
    tracks: int = 128  # tracks sampled per window (the labeller's chunk)
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 2


def track_labels(window: Window, gt: np.ndarray) -> np.ndarray:
    """GT under each track at its query frame."""
    t = window.tracks
    q = t.query_frame
    xy = t.xy[np.arange(len(q)), q]
    h, w = gt.shape[1:]
    x = np.clip(np.round(xy[:, 0]).astype(np.int64), 0, w - 1)
    y = np.clip(np.round(xy[:, 1]).astype(np.int64), 0, h - 1)
    return gt[window.start + q, y, x]


def initial_model(dino_dim: int):
    """v2's architecture with a DINO slot of ``dino_dim`` channels, v2's weights, zeros for the new inputs."""
    import torch

    from motionseg_trt.motion.classifier.config import ClassifierConfig
    from motionseg_trt.motion.classifier.modeling import TrajectoryClassifier
    from motionseg_trt.motion.learned import load_weights

    base, _ = load_weights()
    cfg = ClassifierConfig.from_dict({**base.config.to_dict(), "use_dino": True, "dino_dim": int(dino_dim)})
    model = TrajectoryClassifier(cfg)
    own, old = model.state_dict(), base.state_dict()
    for key, value in own.items():
        if key in old and old[key].shape == value.shape:
            own[key] = old[key]
        elif key in old and value.dim() == 2 and old[key].shape[0] == value.shape[0]:
            grown = torch.zeros_like(value)
            grown[:, :old[key].shape[1]] = old[key]
            own[key] = grown
    model.load_state_dict(own)
    return model


def _evidence(window: Window):
    from motionseg_trt.motion.residual_features import CameraResidualEvidence

    return CameraResidualEvidence(residual=window.residual, prior_logit=window.prior_logit)


def _features(window: Window, flip_width: Optional[int] = None):
    from motionseg_trt.contracts import WindowFeatures

    dino = window.dino.astype(np.float32)
    if flip_width is not None:
        dino = dino[:, :, ::-1]
    return WindowFeatures(dino=dino, dino_frames=window.dino_frames)


def prepare(window: Window, labels: np.ndarray, model_config, idx: np.ndarray, image_hw, flip: bool = False):
    """Inputs (inference preprocessing), labels and prior logits of the tracks ``idx`` of a window."""
    from motionseg_trt.contracts import Tracks
    from motionseg_trt.motion.classifier.preprocess import PreprocessConfig, prepare_from_tracks
    from motionseg_trt.motion.residual_features import apply_evidence

    t = window.tracks
    xy = t.xy[idx]
    if flip:
        xy = xy.copy()
        xy[..., 0] = (image_hw[1] - 1) - xy[..., 0]
    tracks = Tracks(xy=xy, visible=t.visible[idx], confidence=t.confidence[idx], ids=np.asarray(idx, np.int64),
                    query_frame=t.query_frame[idx])
    pcfg = PreprocessConfig.for_model(model_config, use_depth=False)
    prepared = prepare_from_tracks(tracks, _features(window, image_hw[1] if flip else None), image_hw=image_hw,
                                   cfg=pcfg)
    rows = np.asarray(idx)[prepared.kept]
    prior = apply_evidence(prepared.inputs, _evidence(window), rows, image_hw, flip_x=flip)
    return prepared.inputs, labels[rows], prior


def _batch(items, model_config, rng, n_tracks: int, image_hw):
    import torch

    feeds, ys, priors = [], [], []
    for window, labels in items:
        n = len(labels)
        idx = np.sort(rng.choice(n, min(n_tracks, n), replace=False))
        f, y, p = prepare(window, labels, model_config, idx, image_hw, flip=rng.random() < 0.5)
        feeds.append(f)
        ys.append(y)
        priors.append(p)
    b, n, t = len(items), max(len(y) for y in ys), max(f.traj.shape[1] for f in feeds)
    d = feeds[0].dino.shape[1]
    out = {"traj": np.zeros((b, n, t, 2), np.float32), "mask": np.ones((b, n, t), np.float32),
           "depth": np.zeros((b, n, t), np.float32), "visib_value": np.zeros((b, n, t), np.float32),
           "confi_value": np.zeros((b, n, t), np.float32), "dino": np.zeros((b, n, d), np.float32)}
    prior = np.zeros((b, n), np.float32)
    pad = np.ones((b, n), bool)
    y = np.zeros((b, n), np.float32)
    for i, (f, lab) in enumerate(zip(feeds, ys)):
        k, tk = len(lab), f.traj.shape[1]
        for name in out:
            value = getattr(f, name)
            if name == "dino":
                out[name][i, :k] = value
            else:
                out[name][i, :k, :tk] = value
        prior[i, :k], pad[i, :k], y[i, :k] = priors[i], False, lab
    out["mask"][..., 0] = np.where(pad, 0.0, out["mask"][..., 0])  # padded tracks keep one "visible" frame
    return ({k: torch.from_numpy(v) for k, v in out.items()}, torch.from_numpy(pad), torch.from_numpy(y),
            torch.from_numpy(prior))


def train(clips: list[ClipCache], gts: dict, cfg: ClassifierTraining, log=print):
    """Fine-tune the appearance classifier on the windows of ``clips``; returns the model (eval mode)."""
    import torch

    from motionseg_training.trainer import fused_attention, weighted_bce

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    items = [(w, track_labels(w, gts[c.name])) for c in clips for w in c.windows]
    image_hw = clips[0].work_hw
    model = initial_model(items[0][0].dino.shape[-1])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, cfg.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(s, cfg.steps) / cfg.steps)))
    model.train()
    t0 = time.time()
    with fused_attention():
        for step in range(cfg.steps):
            chosen = [items[j] for j in rng.choice(len(items), min(cfg.batch, len(items)), replace=False)]
            inputs, pad, y, prior = _batch(chosen, model.config, rng, cfg.tracks, image_hw)
            loss = weighted_bce(model(**inputs, track_pad=pad) + prior, y, pad)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if (step + 1) % 20 == 0:
                log(f"  step {step + 1}/{cfg.steps} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
    return model.eval()


def window_probabilities(model, clip: ClipCache, chunk: int = 128, gate: float = -2.0) -> list[np.ndarray]:
    """Each window's track probabilities, scored as the appearance labeller scores them."""
    from motionseg_trt.motion.learned import score_tracks

    return [score_tracks(model, w.tracks, clip.work_hw, chunk=chunk, seed=w.index, evidence=_evidence(w),
                         min_prior_logit=gate, features=_features(w)) for w in clip.windows]
