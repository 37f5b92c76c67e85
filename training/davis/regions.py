"""The region classifier of the appearance densifier: per frame, the regions the densifier describes
(:func:`motionseg_trt.masks.region_fusion.frame_regions`), each labelled by the ground truth (kept when
most of its pixels are object), and a small MLP trained on them.

Regions are made by the densifier itself (``AppearanceFillDensifier.regions``) from a labeller's moving
tracks, so that training sees what a run sees; which labeller (geometric, the appearance classifier,
the ground truth) is the caller's choice.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .cache import ClipCache, iter_windows


@dataclass
class FrameSample:
    regions: object  # motionseg_trt.masks.region_fusion.FrameRegions (half resolution)
    target: np.ndarray  # [R] 1.0 where most of the region is object
    motion: np.ndarray  # [h, w] uint8 the motion fill's labels at half resolution (variant "motion only")


def clip_samples(clip: ClipCache, frames: np.ndarray, gt: np.ndarray, probabilities: list[np.ndarray],
                 select, config=None) -> list[FrameSample]:
    """One :class:`FrameSample` per frame of ``clip``; ``probabilities`` per window, ``select(prob)`` the
    labeller's moving set."""
    from motionseg_trt.config import RunConfig
    from motionseg_trt.contracts import MotionLabels, WindowFeatures
    from motionseg_trt.masks.appearance_fill import AppearanceFillDensifier

    # only the densifier's motion fill and region description are used: no region model needed
    densifier = AppearanceFillDensifier(config or RunConfig(threads=1, extra={"region_model": "rule"}))
    out: list[FrameSample] = []
    for fw, w in iter_windows(clip, frames):
        prob = probabilities[w.index]
        labels = MotionLabels(prob=prob, moving=select(prob), threshold=0.5)
        masks = densifier.motion.densify(fw, w.tracks, labels)
        h, wd = fw.frames.shape[1:3]
        half = (max(1, h // 2), max(1, wd // 2))
        for k, local in enumerate(range(fw.emit_from, fw.length)):
            soft = densifier.motion.foreground[k]
            if soft is None:
                soft = np.zeros(half, np.float32)
            regions = densifier.regions(clip.saliency[w.start + local], masks.labels[k], soft, w.tracks, labels,
                                        local, half, (h, wd))
            g = cv2.resize(gt[w.start + local].astype(np.uint8), (half[1], half[0]), interpolation=cv2.INTER_NEAREST)
            area = np.bincount(regions.labels.ravel(), minlength=regions.count + 1)[1:]
            inside = np.bincount(regions.labels[g > 0].ravel(), minlength=regions.count + 1)[1:]
            motion = cv2.resize(masks.labels[k], (half[1], half[0]), interpolation=cv2.INTER_NEAREST)
            out.append(FrameSample(regions, (inside > 0.5 * area).astype(np.float32), motion))
    return out


def stack(samples: list[FrameSample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, targets and weights (square root of the region's area: large regions matter more to J,
    without letting one blob outweigh every small one)."""
    xs, ys, ws = [], [], []
    for s in samples:
        if s.regions.count:
            xs.append(s.regions.features)
            ys.append(s.target)
            ws.append(np.sqrt(np.bincount(s.regions.labels.ravel(), minlength=s.regions.count + 1)[1:]))
    if not xs:
        raise ValueError("no regions to train on")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws).astype(np.float64)


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, hidden: int = 32, epochs: int = 300, seed: int = 0,
        weight_decay: float = 1e-3):
    """A one-hidden-layer MLP by full-batch Adam; returns ``(mean, std, [(w0, b0), (w1, b1)])``."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy(((x - mean) / std).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32))
    wt = torch.from_numpy((weight / weight.mean()).astype(np.float32))
    net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 1))
    opt = torch.optim.Adam(net.parameters(), 1e-2, weight_decay=weight_decay)
    for _ in range(epochs):
        loss = (nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt, reduction="none") * wt).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    layers = [(net[0].weight.detach().numpy(), net[0].bias.detach().numpy()),
              (net[2].weight.detach().numpy(), net[2].bias.detach().numpy())]
    return mean.astype(np.float32), std.astype(np.float32), layers


class FittedModel:
    """A fitted region MLP with :class:`~motionseg_trt.masks.region_fusion.RegionModel`'s ``prob``."""

    def __init__(self, mean, std, layers):
        self.mean, self.std, self.layers = mean, std, layers

    def prob(self, features: np.ndarray) -> np.ndarray:
        from motionseg_trt.masks.region_fusion import mlp_prob

        return mlp_prob(features, self.mean, self.std, self.layers)


def fused_masks(samples: list[FrameSample], model, threshold: float = 0.5, fallback: bool = True) -> list[np.ndarray]:
    """The appearance densifier's labels (half resolution) of each frame, with ``model`` deciding."""
    from motionseg_trt.masks.region_fusion import decide, fused_labels

    out = []
    for s in samples:
        if s.regions.count == 0 or not s.motion.any():
            out.append(np.zeros_like(s.motion))
            continue
        keep = decide(s.regions, model.prob(s.regions.features), threshold, fallback)
        out.append(fused_labels(s.regions, keep))
    return out
