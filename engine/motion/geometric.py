"""The geometric motion labeller: a track moves on its own when the camera's motion cannot explain it.

For several frame pairs of the window (several gaps: short gaps see fast motion before tracks end,
long gaps see slow motion), the camera-induced motion of the tracks is fitted robustly:

* a homography (rotation-only camera or a distant / planar scene) by RANSAC, and
* a fundamental matrix (a translating camera over a 3-D scene: parallax) by MAGSAC++.

The fundamental matrix is used only where the scene shows parallax that the homography cannot
explain (its inlier set is clearly larger): otherwise it is ill-conditioned and would absorb the
objects' motion into a wrong epipolar geometry. Each track's residual (transfer error, or Sampson
distance) is normalised by the pair's robust residual scale and averaged, weighted by confidence, over
the pairs where it is visible.

When an object covers more of the image than the background does, RANSAC's best model is the
object's. A second model is therefore fitted to the first one's outliers, and the model whose
inliers cover the image border better is taken as the camera's: the background surrounds objects.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import cv2
import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, MotionLabels, Tracks, WindowFeatures
from ..options import Option, read_options
from ..units import frames_for, space_unit


def parse_gaps(text: str) -> tuple[float, ...]:
    """``geo_gaps_s``: comma-separated gaps in seconds, each above 0."""
    try:
        gaps = tuple(float(g) for g in str(text).split(","))
    except ValueError:
        gaps = ()
    if not gaps or min(gaps) <= 0 or not all(np.isfinite(gaps)):
        raise ValueError("expected comma-separated gaps in seconds, above 0, e.g. 0.04,0.17,0.5")
    return gaps


OPTIONS = (
    Option("geo_gaps_s", "0.04,0.17,0.5", "time between the frames of the pairs, seconds (1, 4 and 12 frames at "
                                          "24 fps); pairs start every max(1, gap // 2) frames", parse=parse_gaps),
    Option("geo_model", "homography", "camera model: homography, fundamental, or auto (homography unless parallax)",
           choices=("auto", "homography", "fundamental")),
    Option("geo_ransac_px", 1.0, "RANSAC inlier threshold, px of an 854x480 frame (scales with sqrt(area))",
           positive=True),
    Option("geo_parallax_gain", 0.1, "F replaces H when it has this fraction more inliers", minimum=0.0),
    Option("geo_sigma_floor_px", 0.5, "smallest residual scale, px of an 854x480 frame (scales with sqrt(area))",
           positive=True),
    Option("geo_outlier_k", 3.0, "a residual of k robust sigmas is the decision boundary", positive=True),
    Option("geo_two_models", 1, "fit a second model and pick the background one by border coverage",
           choices=(0, 1)),
    Option("geo_threshold", 0.5, "moving-track threshold on the probability", minimum=0.0, maximum=1.0),
    Option("geo_fit_confidence", 0.5, "only tracks this confident (textured, consistent) fit the camera",
           minimum=0.0, maximum=1.0),
    Option("geo_ransac_iters", 300, "RANSAC iterations at most (non-rigid scenes, e.g. water, never converge)",
           minimum=1),
    Option("geo_fit_points", 600, "at most this many tracks (evenly taken) fit each pair's model",
           minimum=15),  # a fundamental matrix is fitted from 15 points or more
    Option("geo_prior_weight", 1.0, "evidence of this many confident pairs that the track is static",
           minimum=0.0),
)


# A pair's camera model "works" when it explains at least this fraction of the tracks it was fitted to
# (diagnostics only: the warning that the camera model failed on most frames).
CAMERA_FIT_MIN_EXPLAINED = 0.5
# Warn when the camera model failed on more than this fraction of the frames.
CAMERA_FAIL_WARN = 0.5


class PairEvidence(NamedTuple):
    """The camera fit of one frame pair ``(a, b)`` and what it says of the tracks visible in both."""

    a: int
    b: int
    rows: np.ndarray  # [M] indices of the tracks visible in frames a and b
    weight: np.ndarray  # [M] their confidence (the smaller of the two frames')
    residual: np.ndarray  # [M] normalised residual r / (k sigma), clipped at 3; 1 = decision boundary
    homography: Optional[np.ndarray]  # [3, 3] the camera homography a -> b; None where F was used


def gap_frames(gaps_s: tuple[float, ...], frame_interval: Optional[float]) -> tuple[int, ...]:
    """The gaps in frames of a window whose frames are ``frame_interval`` seconds apart (None: 24 fps)."""
    return tuple(sorted({frames_for(g, frame_interval) for g in gaps_s}))


def frame_pairs(num_frames: int, gaps: tuple[int, ...]) -> list[tuple[int, int]]:
    """Frame pairs (a, a + gap) for every gap that fits, starting every max(1, gap // 2) frames (the
    last pair ends on the last frame, so that tracks born late in the window are judged too)."""
    pairs: set[tuple[int, int]] = set()
    for gap in sorted({min(g, num_frames - 1) for g in gaps if num_frames > 1}):
        starts = list(range(0, num_frames - gap, max(1, gap // 2)))
        starts.append(num_frames - 1 - gap)
        pairs.update((a, a + gap) for a in starts)
    return sorted(pairs)


def transfer_error(h: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    ph = np.concatenate([p, np.ones((len(p), 1), p.dtype)], 1) @ h.T
    mapped = ph[:, :2] / np.where(np.abs(ph[:, 2:]) < 1e-12, 1e-12, ph[:, 2:])
    return np.linalg.norm(mapped - q, axis=1)


def sampson_error(f: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """sqrt of the Sampson distance: a first-order distance (px) of the pair to the epipolar geometry."""
    ph = np.concatenate([p, np.ones((len(p), 1))], 1)
    qh = np.concatenate([q, np.ones((len(q), 1))], 1)
    fp = ph @ f.T
    ftq = qh @ f
    num = np.sum(qh * fp, 1) ** 2
    den = fp[:, 0] ** 2 + fp[:, 1] ** 2 + ftq[:, 0] ** 2 + ftq[:, 1] ** 2
    return np.sqrt(num / np.maximum(den, 1e-12))


def border_coverage(points: np.ndarray, shape: tuple[int, int], band: float = 0.12, bins: int = 16) -> float:
    """Fraction of the image border's segments (bins per side) that hold at least one point."""
    h, w = shape
    bx, by = band * w, band * h
    covered = 0
    for sel, coord, length in (
        (points[:, 1] < by, points[:, 0], w),
        (points[:, 1] > h - 1 - by, points[:, 0], w),
        (points[:, 0] < bx, points[:, 1], h),
        (points[:, 0] > w - 1 - bx, points[:, 1], h),
    ):
        if np.any(sel):
            covered += len(np.unique(np.clip((coord[sel] / length * bins).astype(int), 0, bins - 1)))
    return covered / (4.0 * bins)


class GeometricLabeller:
    """``label(window, tracks, features) -> MotionLabels`` from camera-motion residuals."""

    OPTIONS = OPTIONS

    def __init__(self, config: Optional[RunConfig] = None):
        config = config or RunConfig()
        opt = read_options(config, OPTIONS)
        self.gaps_s = opt["geo_gaps_s"]
        self.model = opt["geo_model"]
        self.ransac_px = opt["geo_ransac_px"]
        self.parallax_gain = opt["geo_parallax_gain"]
        self.sigma_floor_px = opt["geo_sigma_floor_px"]
        self.outlier_k = opt["geo_outlier_k"]
        self.two_models = bool(opt["geo_two_models"])
        self.threshold = opt["geo_threshold"]
        self.prior_weight = opt["geo_prior_weight"]
        self.fit_confidence = opt["geo_fit_confidence"]
        self.fit_points = opt["geo_fit_points"]
        self.ransac_iters = opt["geo_ransac_iters"]
        self.last_models: list[str] = []  # which model each pair used (for diagnostics)
        self.last_fits: list[tuple[int, int, bool]] = []  # (a, b, the camera model works) per pair
        self.frames_judged = 0  # emitted frames so far, and those where no pair's camera model worked
        self.frames_failed = 0

    # ------------------------------------------------------------------ one pair
    def _homography(self, p: np.ndarray, q: np.ndarray, thr: float, shape) -> Optional[np.ndarray]:
        h, inl = cv2.findHomography(p, q, cv2.RANSAC, thr, maxIters=self.ransac_iters, confidence=0.995)
        if h is None:
            return None
        if not self.two_models:
            return h
        out = ~inl.ravel().astype(bool)
        n_in = int(inl.sum())
        if out.sum() < max(8, 0.25 * len(p)):
            return h
        h2, inl2 = cv2.findHomography(p[out], q[out], cv2.RANSAC, thr, maxIters=self.ransac_iters, confidence=0.995)
        if h2 is None or inl2.sum() < 0.3 * n_in:
            return h
        in1 = p[inl.ravel().astype(bool)]
        in2 = p[out][inl2.ravel().astype(bool)]
        return h2 if border_coverage(in2, shape) > border_coverage(in1, shape) + 0.1 else h

    def _fundamental(self, p: np.ndarray, q: np.ndarray, thr: float) -> Optional[np.ndarray]:
        try:
            f, _ = cv2.findFundamentalMat(p, q, cv2.USAC_MAGSAC, thr, 0.995, self.ransac_iters)
        except cv2.error:
            # OpenCV 5's USAC fails an internal assertion (!model.empty()) on some ordinary, well-spread
            # point sets (seen on DAVIS's bear); plain RANSAC fits those.
            f, _ = cv2.findFundamentalMat(p, q, cv2.FM_RANSAC, thr, 0.995, self.ransac_iters)
        return f

    def _pair_residual(self, p: np.ndarray, q: np.ndarray, reliable: np.ndarray,
                       shape: tuple[int, int]) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """Residual of every (p, q) under the camera model fitted to the reliable ones, and that model
        when it is a homography (None for a fundamental matrix)."""
        unit = space_unit(*shape)
        thr = self.ransac_px * unit
        if reliable.sum() >= 12:
            pf, qf = p[reliable], q[reliable]
        else:
            pf, qf = p, q
        if len(pf) > self.fit_points:  # RANSAC's cost grows with the points; a spread subset suffices
            step = len(pf) / self.fit_points
            keep = (np.arange(self.fit_points) * step).astype(np.int64)
            pf, qf = pf[keep], qf[keep]
        h = self._homography(pf, qf, thr, shape) if self.model != "fundamental" else None
        r = transfer_error(h, p, q) if h is not None else None
        if self.model != "homography" and len(pf) >= 15:
            f = self._fundamental(pf, qf, thr)
            if f is not None and f.shape == (3, 3):
                rf = sampson_error(f, p.astype(np.float64), q.astype(np.float64))
                if r is None or np.sum(rf < thr) > (1.0 + self.parallax_gain) * np.sum(r < thr):
                    self.last_models.append("F")
                    return rf, None
        if r is not None:
            self.last_models.append("H")
        return r, h

    # ------------------------------------------------------------------ window
    def pair_evidence(self, tracks: Tracks, shape: tuple[int, int], frame_interval: Optional[float] = None):
        """A :class:`PairEvidence` for every frame pair of the window with a camera fit; the pairs'
        gaps are ``geo_gaps_s`` at ``frame_interval`` seconds per frame (None: 24 fps)."""
        unit = space_unit(*shape)
        self.last_models = []
        self.last_fits = []
        for a, b in frame_pairs(tracks.num_frames, gap_frames(self.gaps_s, frame_interval)):
            sel = np.flatnonzero(tracks.visible[:, a] & tracks.visible[:, b])
            self.last_fits.append((a, b, False))
            if len(sel) < 12:
                continue
            p = tracks.xy[sel, a].astype(np.float32)
            q = tracks.xy[sel, b].astype(np.float32)
            w = np.minimum(tracks.confidence[sel, a], tracks.confidence[sel, b]).astype(np.float64)
            reliable = w >= self.fit_confidence
            r, h = self._pair_residual(p, q, reliable, shape)
            if r is None:
                continue
            # The residual scale of the camera fit, from the reliable tracks that it explains (within
            # a generous 3x the RANSAC threshold): neither flat regions' poor flow nor an object that
            # holds most of the tracks may inflate it.
            fitted = r[reliable] if reliable.sum() >= 12 else r
            explained = fitted[fitted < 3.0 * self.ransac_px * unit]
            self.last_fits[-1] = (a, b, len(explained) >= CAMERA_FIT_MIN_EXPLAINED * len(fitted))
            spread = float(np.median(explained)) if len(explained) >= 8 else float(np.median(fitted))
            sigma = max(self.sigma_floor_px * unit, 1.4826 * spread)
            e = np.minimum(r / (self.outlier_k * sigma), 3.0)
            yield PairEvidence(a, b, sel, w, e, h)

    def score_logit(self, evidence: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """The logit of "moves on its own" from summed evidence ``sum(w * e)`` over ``pairs`` pairs.

        A residual where the flow is a guess (flat region, inconsistent flow) says little: it counts
        in proportion to the confidence, the rest of the pair's vote goes to "static". A prior of
        ``prior_weight`` pairs' worth of "static" evidence: tracks seen in few pairs need stronger
        residuals to be called moving. Score 1 = a residual of k sigmas: a logistic around it."""
        score = evidence / (pairs + self.prior_weight)
        return 6.0 * (score - 1.0)

    def label(self, window: FrameWindow, tracks: Tracks, features: Optional[WindowFeatures] = None) -> MotionLabels:
        n = tracks.num_tracks
        shape = tuple(window.frames.shape[1:3]) if window is not None else (480, 854)
        evidence = np.zeros(n, np.float64)
        pairs = np.zeros(n, np.float64)
        interval = window.frame_interval if window is not None else None
        for pe in self.pair_evidence(tracks, shape, interval):
            evidence[pe.rows] += pe.weight * pe.residual
            pairs[pe.rows] += 1.0
        if window is not None:
            self.count_failures(window)
        prob = (1.0 / (1.0 + np.exp(-self.score_logit(evidence, pairs)))).astype(np.float32)
        return MotionLabels(prob=prob, moving=prob > self.threshold, threshold=self.threshold)

    def count_failures(self, window: FrameWindow) -> None:
        """A frame has a camera model when a pair that starts or ends on it has a working one."""
        ok = np.zeros(window.length, bool)
        tried = np.zeros(window.length, bool)
        for a, b, works in self.last_fits:
            tried[[a, b]] = True
            if works:
                ok[[a, b]] = True
        emitted = slice(window.emit_from, window.length)
        # a frame no pair touched (a one-frame window) says nothing either way
        self.frames_judged += int(tried[emitted].sum())
        self.frames_failed += int((tried[emitted] & ~ok[emitted]).sum())

    def reset(self) -> None:
        """A scene cut: nothing to forget but the diagnostics of the last window."""
        self.last_models, self.last_fits = [], []

    def warnings(self) -> list[str]:
        if self.frames_judged and self.frames_failed > CAMERA_FAIL_WARN * self.frames_judged:
            return [f"the camera model failed on {self.frames_failed} of {self.frames_judged} frames (too few "
                    f"tracks, or no model explains most of them: water, heavy blur, a non-rigid scene); "
                    f"motion labels there are unreliable"]
        return []
