"""Camera-compensated motion evidence per track and frame, for the learned classifier.

The geometric labeller (:mod:`.geometric`) fits the camera's motion between frame pairs and reduces
each track's residuals to one score. Here the same fits (its own ``frame_pairs`` and
``_pair_residual``, same options) are kept per frame instead: the residual of a track at frame ``t`` is
the confidence-weighted mean of its normalised residuals (``r / (k * sigma)``, clipped at 3, as the
geometric labeller normalises them) over the pairs that contain ``t``. The learned classifier reads
this ``[N, T]`` map in its depth slot, and the geometric logit as a prior added to its own logit: it
learns to correct the camera model (parallax, tracker noise, articulated motion), not to re-discover it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..config import RunConfig
from ..contracts import Tracks
from .geometric import GeometricLabeller, frame_pairs

# Residuals are clipped at 3 (k sigmas units); divided by this they lie in [0, 1].
RESIDUAL_SCALE = 3.0
# Bound of the geometric prior's logit (its logistic is 6 * (score - 1), score in [0, 3]).
PRIOR_LOGIT_BOUND = 12.0


@dataclass
class CameraResidualEvidence:
    residual: np.ndarray  # [N, T] float32 in [0, 1]; 0 where the track is not in any fitted pair
    prior_logit: np.ndarray  # [N] float32, the geometric labeller's logit for the track


def camera_residual_evidence(tracks: Tracks, image_hw, config: Optional[RunConfig] = None,
                             labeller: Optional[GeometricLabeller] = None) -> CameraResidualEvidence:
    """Per-frame camera-model residuals and the geometric prior logit of every track of a window."""
    geo = labeller or GeometricLabeller(config)
    n, t = tracks.num_tracks, tracks.num_frames
    shape = (int(image_hw[0]), int(image_hw[1]))
    unit = shape[0] / 480.0
    per_frame = np.zeros((n, t), np.float64)
    per_frame_w = np.zeros((n, t), np.float64)
    evidence = np.zeros(n, np.float64)
    weight = np.zeros(n, np.float64)
    geo.last_models = []
    for a, b in frame_pairs(t, geo.gaps):
        sel = np.flatnonzero(tracks.visible[:, a] & tracks.visible[:, b])
        if len(sel) < 12:
            continue
        p = tracks.xy[sel, a].astype(np.float32)
        q = tracks.xy[sel, b].astype(np.float32)
        w = np.minimum(tracks.confidence[sel, a], tracks.confidence[sel, b]).astype(np.float64)
        reliable = w >= geo.fit_confidence
        r = geo._pair_residual(p, q, reliable, shape)
        if r is None:
            continue
        # the geometric labeller's residual scale (see GeometricLabeller.label)
        fitted = r[reliable] if reliable.sum() >= 12 else r
        explained = fitted[fitted < 3.0 * geo.ransac_px * unit]
        spread = float(np.median(explained)) if len(explained) >= 8 else float(np.median(fitted))
        sigma = max(geo.sigma_floor_px * unit, 1.4826 * spread)
        e = np.minimum(r / (geo.outlier_k * sigma), 3.0)
        evidence[sel] += w * e
        weight[sel] += 1.0
        for f in (a, b):
            per_frame[sel, f] += w * e
            per_frame_w[sel, f] += w
    residual = np.where(per_frame_w > 0, per_frame / np.maximum(per_frame_w, 1e-9), 0.0) / RESIDUAL_SCALE
    score = evidence / (weight + geo.prior_weight)
    prior = np.clip(6.0 * (score - 1.0), -PRIOR_LOGIT_BOUND, PRIOR_LOGIT_BOUND)
    return CameraResidualEvidence(residual=residual.astype(np.float32), prior_logit=prior.astype(np.float32))
