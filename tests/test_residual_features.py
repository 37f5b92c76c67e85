"""Camera-residual evidence: the geometric labeller's own fits, kept per frame."""
from __future__ import annotations

import numpy as np

from motionseg_trt.contracts import FrameWindow, Tracks
from motionseg_trt.motion.geometric import GeometricLabeller
from motionseg_trt.motion.classifier.preprocess import ModelInputs
from motionseg_trt.motion.residual_features import (apply_evidence, camera_residual_evidence, frame_to_reference,
                                                    stabilise_tracks)


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


def test_stabilised_tracks_hold_the_background_still_and_keep_the_objects_motion():
    tracks, n_bg = _panning_scene()
    ev = camera_residual_evidence(tracks, (240, 320), stabilise=True)
    st = ev.stabilised_xy
    assert st.shape == tracks.xy.shape and st.dtype == np.float32
    ref = tracks.num_frames // 2
    # the reference frame is where the window is seen from
    np.testing.assert_allclose(st[:, ref], tracks.xy[:, ref], atol=1e-3)
    # background: still, up to the 0.1 px noise; the camera moved it 2 px per frame
    vis = tracks.visible
    bg_motion = np.abs(np.diff(st[:n_bg], axis=1))[vis[:n_bg, 1:] & vis[:n_bg, :-1]]
    assert bg_motion.max() < 1.0 and np.median(bg_motion) < 0.2
    # the object keeps its own 4 px per frame downwards
    obj_dy = np.diff(st[n_bg:, :, 1], axis=1)
    assert abs(float(np.median(obj_dy)) - 4.0) < 0.3
    assert ev.stabilised_xy is not None and camera_residual_evidence(tracks, (240, 320)).stabilised_xy is None


def test_frame_to_reference_chains_the_steps():
    rng = np.random.default_rng(1)
    steps = {t: np.array([[1.0, 0.01 * rng.normal(), rng.normal()], [0.01 * rng.normal(), 1.0, rng.normal()],
                          [0.0, 0.0, 1.0]]) for t in range(5)}
    to_ref = frame_to_reference(steps, 6, 2)
    np.testing.assert_allclose(to_ref[2], np.eye(3))
    np.testing.assert_allclose(to_ref[0], steps[1] @ steps[0])  # 0 -> 1 -> 2
    np.testing.assert_allclose(to_ref[4], np.linalg.inv(steps[2]) @ np.linalg.inv(steps[3]))  # 4 -> 3 -> 2
    # a step without a fit counts as no motion
    np.testing.assert_allclose(frame_to_reference({}, 4, 1), np.repeat(np.eye(3)[None], 4, 0))
    xy = rng.uniform(0, 100, (7, 6, 2)).astype(np.float32)
    st = stabilise_tracks(xy, to_ref)
    p = np.array([*xy[3, 0], 1.0]) @ to_ref[0].T
    np.testing.assert_allclose(st[3, 0], p[:2] / p[2], rtol=1e-5)


def test_apply_evidence_fills_depth_and_traj_and_mirrors():
    tracks, _ = _panning_scene()
    ev = camera_residual_evidence(tracks, (240, 320), stabilise=True)
    rows = np.array([0, 7, 305])
    inputs = ModelInputs(traj=np.zeros((3, tracks.num_frames, 2), np.float32), mask=np.zeros((3, tracks.num_frames)))
    prior = apply_evidence(inputs, ev, rows, (240, 320))
    np.testing.assert_array_equal(prior, ev.prior_logit[rows])
    np.testing.assert_array_equal(inputs.depth, ev.residual[rows])
    np.testing.assert_allclose(inputs.traj, ev.stabilised_xy[rows] / np.array([320, 240]) * 2 - 1, atol=1e-6)
    flipped = ModelInputs(traj=inputs.traj.copy(), mask=inputs.mask)
    apply_evidence(flipped, ev, rows, (240, 320), flip_x=True)
    np.testing.assert_allclose(flipped.traj[..., 0], ((319 - ev.stabilised_xy[rows, :, 0]) / 320) * 2 - 1, atol=1e-6)
    np.testing.assert_array_equal(flipped.traj[..., 1], inputs.traj[..., 1])


def test_subset_keeps_the_rows_of_every_field():
    tracks, n_bg = _panning_scene()
    ev = camera_residual_evidence(tracks, (240, 320), stabilise=True)
    rows = np.array([3, n_bg, n_bg + 5])
    sub = ev.subset(rows)
    assert np.array_equal(sub.residual, ev.residual[rows]) and np.array_equal(sub.prior_logit, ev.prior_logit[rows])
    assert np.array_equal(sub.stabilised_xy, ev.stabilised_xy[rows])
    assert camera_residual_evidence(tracks, (240, 320)).subset(rows).stabilised_xy is None
