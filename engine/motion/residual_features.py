"""Camera-compensated motion evidence per track and frame, for the learned classifier.

The geometric labeller (:mod:`.geometric`) fits the camera's motion between frame pairs and reduces
each track's residuals to one score. Here the same fits (its ``pair_evidence``, same options) are
kept per frame instead: the residual of a track at frame ``t`` is
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
from .geometric import GeometricLabeller

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
    per_frame = np.zeros((n, t), np.float64)
    per_frame_w = np.zeros((n, t), np.float64)
    evidence = np.zeros(n, np.float64)
    pairs = np.zeros(n, np.float64)
    for a, b, sel, w, e in geo.pair_evidence(tracks, (int(image_hw[0]), int(image_hw[1]))):
        evidence[sel] += w * e
        pairs[sel] += 1.0
        for f in (a, b):
            per_frame[sel, f] += w * e
            per_frame_w[sel, f] += w
    residual = np.where(per_frame_w > 0, per_frame / np.maximum(per_frame_w, 1e-9), 0.0) / RESIDUAL_SCALE
    prior = np.clip(geo.score_logit(evidence, pairs), -PRIOR_LOGIT_BOUND, PRIOR_LOGIT_BOUND)
    return CameraResidualEvidence(residual=residual.astype(np.float32), prior_logit=prior.astype(np.float32))
