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
    # [N, T, 2] float32 pixels: the tracks with the camera's motion taken out (see stabilise_tracks)
    stabilised_xy: Optional[np.ndarray] = None

    def subset(self, rows: np.ndarray) -> "CameraResidualEvidence":
        """The evidence of the tracks ``rows`` only."""
        return CameraResidualEvidence(
            residual=self.residual[rows], prior_logit=self.prior_logit[rows],
            stabilised_xy=None if self.stabilised_xy is None else self.stabilised_xy[rows])


def frame_to_reference(step_homographies: dict, num_frames: int, reference: int) -> np.ndarray:
    """``[T, 3, 3]`` homographies taking each frame's pixels to the ``reference`` frame's, chained from
    the consecutive-frame camera fits ``{t: H(t -> t+1)}``. A step without a fit counts as no camera
    motion: the chain goes on rather than breaking the window in two."""
    eye = np.eye(3)
    to_ref = np.repeat(eye[None], num_frames, 0)
    for t in range(reference - 1, -1, -1):
        to_ref[t] = to_ref[t + 1] @ step_homographies.get(t, eye)
    for t in range(reference + 1, num_frames):
        step = step_homographies.get(t - 1)
        inv = np.linalg.inv(step) if step is not None and abs(np.linalg.det(step)) > 1e-12 else eye
        to_ref[t] = to_ref[t - 1] @ inv
    return to_ref


def stabilise_tracks(xy: np.ndarray, to_ref: np.ndarray) -> np.ndarray:
    """Track positions ``[N, T, 2]`` mapped into the reference frame by ``to_ref [T, 3, 3]``: the
    background stands still (up to parallax), what moves on its own still moves."""
    ph = np.concatenate([xy.astype(np.float64), np.ones(xy.shape[:2] + (1,))], -1)  # [N, T, 3]
    mapped = np.einsum("tij,ntj->nti", to_ref, ph)
    w = mapped[..., 2:]
    return (mapped[..., :2] / np.where(np.abs(w) < 1e-9, 1e-9, w)).astype(np.float32)


def camera_residual_evidence(tracks: Tracks, image_hw, config: Optional[RunConfig] = None,
                             labeller: Optional[GeometricLabeller] = None,
                             stabilise: bool = False, frame_interval: Optional[float] = None
                             ) -> CameraResidualEvidence:
    """Per-frame camera-model residuals and the geometric prior logit of every track of a window; with
    ``stabilise`` also the tracks in the window's middle frame (camera motion removed).
    ``frame_interval``: seconds between the window's frames (the pairs' gaps are in seconds)."""
    geo = labeller or GeometricLabeller(config)
    n, t = tracks.num_tracks, tracks.num_frames
    per_frame = np.zeros((n, t), np.float64)
    per_frame_w = np.zeros((n, t), np.float64)
    evidence = np.zeros(n, np.float64)
    pairs = np.zeros(n, np.float64)
    steps = {}
    for pe in geo.pair_evidence(tracks, (int(image_hw[0]), int(image_hw[1])), frame_interval):
        evidence[pe.rows] += pe.weight * pe.residual
        pairs[pe.rows] += 1.0
        for f in (pe.a, pe.b):
            per_frame[pe.rows, f] += pe.weight * pe.residual
            per_frame_w[pe.rows, f] += pe.weight
        if pe.b == pe.a + 1 and pe.homography is not None:
            steps[pe.a] = pe.homography
    residual = np.where(per_frame_w > 0, per_frame / np.maximum(per_frame_w, 1e-9), 0.0) / RESIDUAL_SCALE
    prior = np.clip(geo.score_logit(evidence, pairs), -PRIOR_LOGIT_BOUND, PRIOR_LOGIT_BOUND)
    stabilised = stabilise_tracks(tracks.xy, frame_to_reference(steps, t, t // 2)) if stabilise else None
    return CameraResidualEvidence(residual=residual.astype(np.float32), prior_logit=prior.astype(np.float32),
                                  stabilised_xy=stabilised)


# Stabilised positions may leave the image (the camera pans away from the reference frame); they are
# normalised like the raw ones (x / W * 2 - 1) but clipped further out so that their motion survives.
STABILISED_BOUND = 2.0


def apply_evidence(inputs, evidence: CameraResidualEvidence, rows: np.ndarray, image_hw,
                   flip_x: bool = False) -> np.ndarray:
    """Put a window's evidence into classifier inputs prepared for its tracks ``rows``: the residual in
    the depth slot and, when the evidence has them, the stabilised positions in ``traj`` (mirrored
    with ``flip_x``, a training augmentation). Returns the rows' prior logits."""
    inputs.depth = evidence.residual[rows].astype(np.float32)
    if evidence.stabilised_xy is not None:
        xy = evidence.stabilised_xy[rows].astype(np.float32)
        h, w = int(image_hw[0]), int(image_hw[1])
        if flip_x:
            xy = xy.copy()
            xy[..., 0] = (w - 1) - xy[..., 0]
        traj = xy / np.array([w, h], np.float32) * np.float32(2.0) - np.float32(1.0)
        inputs.traj = np.clip(traj, -STABILISED_BOUND, STABILISED_BOUND).astype(np.float32)
    return evidence.prior_logit[rows]
