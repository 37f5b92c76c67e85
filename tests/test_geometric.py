"""The geometric motion labeller: moving squares are found, static ones (and parallax) are not."""
from __future__ import annotations

import numpy as np
import pytest

from _scenes import Square, make_scene, make_zoom_scene
from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow, Tracks
from motionseg_trt.motion.geometric import GeometricLabeller, frame_pairs, sampson_error, transfer_error
from motionseg_trt.tracks.flow_tracker import FlowTracker


def _window(frames):
    return FrameWindow(index=0, start=0, frames=frames, emit_from=0, is_last=True)


def _where(mask_per_frame: np.ndarray, tracks: Tracks, margin: int = 2) -> np.ndarray:
    """Tracks inside ``mask`` (eroded by ``margin`` px; dilated when negative) at the first frame
    where they are visible."""
    import cv2

    first = np.argmax(tracks.visible, 1)
    inside = np.zeros(tracks.num_tracks, bool)
    k = np.ones((2 * abs(margin) + 1, 2 * abs(margin) + 1), np.uint8)
    morph = cv2.erode if margin >= 0 else cv2.dilate
    eroded = [morph(m.astype(np.uint8), k) > 0 for m in mask_per_frame]
    for i, (f, (x, y)) in enumerate(zip(first, tracks.xy[np.arange(tracks.num_tracks), first])):
        m = eroded[f]
        inside[i] = m[int(np.clip(round(y), 0, m.shape[0] - 1)), int(np.clip(round(x), 0, m.shape[1] - 1))]
    return inside


def _label(frames, **extra):
    window = _window(frames)
    tracks = FlowTracker(RunConfig()).track(window)
    labels = GeometricLabeller(RunConfig(extra=extra)).label(window, tracks, None)
    assert labels.prob.shape == (tracks.num_tracks,) and labels.prob.dtype == np.float32
    assert np.all((labels.prob >= 0) & (labels.prob <= 1))
    np.testing.assert_array_equal(labels.moving, labels.prob > labels.threshold)
    return tracks, labels


def test_frame_pairs_cover_every_gap_and_the_last_frame():
    pairs = frame_pairs(16, (1, 4, 12))
    assert all(0 <= a < b <= 15 for a, b in pairs)
    assert {b - a for a, b in pairs} == {1, 4, 12}
    assert sum(1 for a, b in pairs if b - a == 1) == 15  # every consecutive pair
    assert (11, 15) in pairs and (3, 15) in pairs
    assert frame_pairs(3, (1, 4, 12)) == [(0, 1), (0, 2), (1, 2)]
    assert frame_pairs(1, (1, 4)) == []


def test_residuals_are_zero_for_points_that_fit_the_model():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 100, (50, 2))
    h = np.array([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [1e-4, 0.0, 1.0]])
    ph = np.c_[p, np.ones(50)] @ h.T
    q = ph[:, :2] / ph[:, 2:]
    assert transfer_error(h, p, q).max() < 1e-9
    assert np.allclose(transfer_error(h, p, q + [3.0, 4.0]), 5.0)
    # a pure sideways translation: epipolar lines are horizontal, vertical offsets are the distance
    f = np.array([[0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    shifted = p + [7.0, 0.0]
    assert sampson_error(f, p, shifted).max() < 1e-9
    d = sampson_error(f, p, p + [7.0, 2.0])
    assert np.allclose(d, 2.0 / np.sqrt(2.0))  # Sampson splits the 2 px between both images


@pytest.mark.parametrize("pan", [(1.5, 0.5), (-2.0, 1.0)])
def test_camera_pan_moving_square_is_moving_static_square_is_not(pan):
    scene = make_scene(num_frames=16, height=96, width=128, pan=pan,
                       squares=(Square(40, 34, 26, (1.0, 1.2), seed=5), Square(86, 10, 22, seed=6)))
    tracks, labels = _label(scene.frames)
    moving_sq = _where(scene.labels > 0, tracks)
    static_sq = _where(scene.static_mask, tracks)
    background = ~_where(scene.labels > 0, tracks, margin=-3) & ~static_sq
    assert moving_sq.sum() >= 10 and static_sq.sum() >= 10
    assert labels.moving[moving_sq].mean() > 0.8
    assert labels.moving[static_sq].mean() < 0.1
    assert labels.moving[background].mean() < 0.1


def test_zooming_rolling_camera_homography_case():
    scene = make_zoom_scene()
    tracks, labels = _label(scene.frames)
    moving_sq = _where(scene.labels > 0, tracks)
    static_sq = _where(scene.static_mask, tracks)
    assert moving_sq.sum() >= 10 and static_sq.sum() >= 10
    assert labels.moving[moving_sq].mean() > 0.8
    assert labels.moving[static_sq].mean() < 0.1


def test_parallax_is_explained_by_the_epipolar_geometry():
    """A near layer slides faster than the far one (a translating camera): no homography fits the
    whole background. With the fundamental-matrix model (auto picks it here) the near layer is not
    moving, while a square moving across the epipolar lines still is."""
    scene = make_scene(num_frames=16, height=96, width=128, pan=(2.0, 0.0), near_band=(60, 96),
                       near_factor=2.0, squares=(Square(50, 8, 24, (0.0, 1.6), seed=5),))
    near = np.zeros_like(scene.labels, dtype=bool)
    near[:, 62:] = True
    near &= scene.labels == 0
    for model in ("auto", "fundamental"):
        tracks, labels = _label(scene.frames, geo_model=model)
        moving_sq = _where(scene.labels > 0, tracks)
        near_tracks = _where(near, tracks)
        assert moving_sq.sum() >= 10 and near_tracks.sum() >= 30
        assert labels.moving[moving_sq].mean() > 0.8, model
        assert labels.moving[near_tracks].mean() < 0.1, model
    # the homography-only model cannot explain the near layer: that is what parallax means
    tracks, labels = _label(scene.frames, geo_model="homography")
    assert labels.moving[_where(near, tracks)].mean() > 0.5


def test_fundamental_fit_falls_back_to_ransac_when_usac_fails(monkeypatch):
    """OpenCV 5's USAC (MAGSAC++) fails an internal assertion on some ordinary point sets (DAVIS's bear,
    which cannot be committed, so the failure is injected here): the pair is fitted by plain RANSAC
    instead, and the parallax scene is still labelled right."""
    import cv2

    import motionseg_trt.motion.geometric as geometric

    real = cv2.findFundamentalMat
    methods = []

    def usac_fails(p, q, method, *args):
        methods.append(method)
        if method == cv2.USAC_MAGSAC:
            raise cv2.error("(-215:Assertion failed) !model.empty() in function 'setModelParameters'")
        return real(p, q, method, *args)

    monkeypatch.setattr(geometric.cv2, "findFundamentalMat", usac_fails)
    scene = make_scene(num_frames=16, height=96, width=128, pan=(2.0, 0.0), near_band=(60, 96),
                       near_factor=2.0, squares=(Square(50, 8, 24, (0.0, 1.6), seed=5),))
    near = np.zeros_like(scene.labels, dtype=bool)
    near[:, 62:] = True
    near &= scene.labels == 0
    tracks, labels = _label(scene.frames, geo_model="fundamental")
    assert cv2.USAC_MAGSAC in methods and cv2.FM_RANSAC in methods
    assert labels.moving[_where(scene.labels > 0, tracks)].mean() > 0.8
    assert labels.moving[_where(near, tracks)].mean() < 0.1


def test_an_object_larger_than_the_background_does_not_become_the_background():
    """A moving square covering most of the frame: RANSAC's best model is the square's; the border
    test picks the model whose inliers surround the image (the camera's)."""
    scene = make_scene(num_frames=12, height=96, width=128, pan=(1.5, 0.5),
                       squares=(Square(14, 10, 76, (-1.0, 1.0), seed=5),))
    tracks, labels = _label(scene.frames)
    moving_sq = _where(scene.labels > 0, tracks)
    background = ~_where(scene.labels > 0, tracks, margin=-3) & tracks.visible[:, 0]
    assert moving_sq.sum() > background.sum()  # the object holds most tracks
    assert labels.moving[moving_sq].mean() > 0.8
    assert labels.moving[background].mean() < 0.2
