"""Camera-residual evidence: the geometric labeller's own fits, kept per frame."""
from __future__ import annotations

import numpy as np

from motionseg_trt.contracts import FrameWindow, Tracks
from motionseg_trt.motion.geometric import GeometricLabeller
from motionseg_trt.motion.residual_features import camera_residual_evidence


def _panning_scene(seed=0, n_bg=300, n_obj=40, t=10):
    """Background points under a camera pan (pure translation) and an object moving against it."""
    rng = np.random.default_rng(seed)
    xy = np.zeros((n_bg + n_obj, t, 2), np.float32)
    start = rng.uniform([20, 20], [300, 220], (n_bg + n_obj, 2))
    for f in range(t):
        xy[:, f] = start + np.array([2.0 * f, 0.5 * f])
        xy[n_bg:, f] += np.array([0.0, 4.0 * f])  # the object's own motion
    xy += rng.normal(0, 0.1, xy.shape).astype(np.float32)
    visible = np.ones(xy.shape[:2], bool)
    visible[:5, 6:] = False  # some tracks end
    n = len(xy)
    tracks = Tracks(xy=xy, visible=visible, confidence=np.ones(xy.shape[:2], np.float32),
                    ids=np.arange(n), query_frame=np.zeros(n, np.int64))
    return tracks, n_bg


def test_prior_is_the_geometric_labellers_logit():
    tracks, _ = _panning_scene()
    ev = camera_residual_evidence(tracks, (240, 320))
    window = FrameWindow(index=0, start=0, frames=np.zeros((10, 240, 320, 3), np.uint8), emit_from=0, is_last=True)
    geo = GeometricLabeller().label(window, tracks)
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-ev.prior_logit)), geo.prob, atol=1e-5)


def test_residuals_are_high_on_the_moving_object_only_where_visible():
    tracks, n_bg = _panning_scene()
    ev = camera_residual_evidence(tracks, (240, 320))
    assert ev.residual.shape == tracks.visible.shape and ev.residual.dtype == np.float32
    assert ev.residual.min() >= 0.0 and ev.residual.max() <= 1.0
    assert ev.residual[n_bg:].mean() > 0.9 and ev.residual[:n_bg].mean() < 0.2
    assert np.all(ev.residual[:5, 6:] == 0.0)  # not visible: no pair, no evidence
