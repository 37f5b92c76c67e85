"""Preprocessing details (spec §2-§3) on small hand-made inputs, and the engine-facing labeller."""
from __future__ import annotations

import numpy as np
import pytest

from motionseg_trt.motion.classifier.preprocess import (
    PreprocessConfig, depth_from_u8, ensure_visible_per_frame, normalise_coords, official_depth_from_unit,
    prepare_from_raw, prepare_from_tracks, reorder_dino_head_major, sample_depth, sample_dino, soft_visibility,
    subsample_tracks, u8_from_u16_png)


def test_soft_visibility_gating():
    # (v, c) pairs: visible; confidently occluded; neither (confidence gated to 0)
    v = np.array([[0.9, 0.1, 0.6]], np.float32)
    c = np.array([[0.9, 0.9, 0.6]], np.float32)
    logit = lambda p: np.log((1 - p) / p).astype(np.float32)  # noqa: E731  (1 - sigmoid(l) = p)
    visible, vv, cv = soft_visibility(logit(v), logit(c))
    np.testing.assert_array_equal(visible, [[True, False, False]])
    np.testing.assert_allclose(vv, v, atol=1e-6)
    np.testing.assert_allclose(cv, [[0.9, 0.9, 0.0]], atol=1e-6)


def test_one_visible_point_per_frame():
    visible = np.array([[True, False, False], [False, False, True]])
    conf = np.array([[0.2, 0.5, 0.1], [0.3, 0.5, 0.9]], np.float32)
    out = ensure_visible_per_frame(visible, conf)
    np.testing.assert_array_equal(out, [[True, True, False], [False, False, True]])  # tie -> first track
    assert visible[0, 1] == False  # noqa: E712  (input untouched)


def test_normalise_divides_by_size_and_clamps():
    xy = np.array([[0.0, 0.0], [80.0, 60.0], [200.0, -5.0]], np.float32)
    np.testing.assert_allclose(normalise_coords(xy, 120, 160), [[-1, -1], [0, 0], [1, -1]])


def test_official_depth_index_quirk():
    h, w = 4, 5
    depth = np.arange(h * w, dtype=np.float32).reshape(1, h, w) / 100
    traj = np.array([[[-0.5, -0.5]], [[0.5, 0.5]], [[-0.3, 0.5]], [[1.0, 0.5]], [[1.0, 1.0]]], np.float32)
    got = sample_depth(depth, traj, "official")[:, 0] * 100
    # upper half -> pixel 0; r=2,c=2 -> 12; c<0 wraps into the row before; x=1 -> next row's first pixel;
    # past the end -> clamped to the last pixel
    np.testing.assert_allclose(got, [0, 12, 9, 15, 19], atol=1e-4)
    correct = sample_depth(depth, traj, "correct")[:, 0] * 100
    np.testing.assert_allclose(correct, [6, 18, 16, 19, 19], atol=1e-4)
    with pytest.raises(ValueError):
        sample_depth(depth, traj, "bilinear")


def test_depth_png_saturation():
    u16 = np.array([[[0, 100, 255, 256, 65535]]], np.uint16)
    np.testing.assert_array_equal(u8_from_u16_png(u16), [[[0, 100, 255, 255, 255]]])
    np.testing.assert_allclose(depth_from_u8(u8_from_u16_png(u16)), [[[0, 100 / 255, 1, 1, 1]]], atol=1e-7)
    d = official_depth_from_unit(np.linspace(0, 1, 20, dtype=np.float32).reshape(1, 4, 5))
    assert d[0, 0, 0] == 0 and (d[0].ravel()[1:] == 1).all()  # only the farthest 0.4 % keeps gradation
    assert (depth_from_u8(np.full((1, 2, 2), 7, np.uint8)) == 0).all()  # constant frame: no NaN
    # the 16-bit value is truncated as the PNG writer's cast does: 255.9/65535 -> 255, 256.0/65535 -> 256
    near = official_depth_from_unit(np.array([[[0.0, 100.9 / 65535, 255.9 / 65535, 1.0]]], np.float32))
    np.testing.assert_allclose(near, [[[0.0, 100 / 255, 1.0, 1.0]]], atol=1e-7)


def test_dino_layout_and_sampling():
    keys = np.arange(24, dtype=np.float32).reshape(1, 24)  # 2 heads x 12 dims, head-major
    official = reorder_dino_head_major(keys, heads=2)
    assert official[0, 0] == 0 and official[0, 1] == 12 and official[0, 2] == 1  # channel 2j+k = dim j of head k
    maps = np.zeros((2, 3, 4, 1), np.float16)
    maps[0, 1, 2, 0] = 5
    maps[1, 2, 3, 0] = 7
    tracks = np.zeros((2, 6, 2), np.float32)
    # W=80, H=60, 4x3 maps: scale 0.05 on both axes, truncated
    tracks[0, 0] = [60.0, 45.0]  # query frame 0 -> cell (iy=2, ix=3)
    tracks[1, 5] = [39.9, 20.1]  # query frame 5 -> cell (1, 1)
    out = sample_dino(maps, [0, 5], np.array([0, 5]), tracks, 60, 80)
    assert out.dtype == np.float32 and out.shape == (2, 1)
    maps[0, 2, 3, 0] = 9
    maps[1, 1, 1, 0] = 4
    np.testing.assert_array_equal(sample_dino(maps, [0, 5], np.array([0, 5]), tracks, 60, 80)[:, 0], [9, 4])
    # a query frame without a map reads the nearest one
    np.testing.assert_array_equal(sample_dino(maps, [0, 5], np.array([4, 1]), tracks, 60, 80)[:, 0], [0, 0])


def test_subsample_counts():
    q = np.repeat([0, 10, 20], [100, 40, 7])
    idx = subsample_tracks(q, np.random.default_rng(0))
    counts = [int((q[idx] == f).sum()) for f in (0, 10, 20)]
    assert counts == [33, 13, 2] and len(set(idx)) == len(idx)
    assert len(subsample_tracks(np.zeros(30000, int), np.random.default_rng(0), max_tracks=5000)) == 5000


def test_prepare_from_raw_drops_never_visible_tracks():
    rng = np.random.default_rng(0)
    n, t = 6, 4
    occ = rng.normal(-4, 1, (n, t)).astype(np.float32)
    occ[2] = 8.0  # never visible
    dist = np.full((n, t), -4, np.float32)
    px = rng.uniform(0, 30, (n, t, 2)).astype(np.float32)
    cfg = PreprocessConfig(use_depth=False, use_dino=False)
    prep = prepare_from_raw(px, occ, dist, np.zeros(n, int), (32, 32), cfg=cfg)
    np.testing.assert_array_equal(prep.kept, [0, 1, 3, 4, 5])
    assert prep.inputs.traj.shape == (5, t, 2) and prep.inputs.depth is None and prep.inputs.dino is None
    feed = prep.inputs.feed(["traj", "mask", "visib_value", "confi_value"])
    assert feed["traj"].shape == (1, 5, t, 2) and feed["mask"].dtype == np.float32
    with pytest.raises(ValueError, match="depth"):
        prepare_from_raw(px, occ, dist, np.zeros(n, int), (32, 32), cfg=PreprocessConfig(use_dino=False))


def _window_and_tracks(n=60, t=6, h=24, w=32, seed=0):
    from motionseg_trt.contracts import FrameWindow, Tracks, WindowFeatures

    rng = np.random.default_rng(seed)
    visible = rng.random((n, t)) > 0.3
    visible[:3] = False
    tracks = Tracks(xy=(rng.random((n, t, 2)) * [w, h]).astype(np.float32), visible=visible,
                    confidence=rng.random((n, t)).astype(np.float32), ids=np.arange(n),
                    query_frame=rng.integers(0, t, n))
    feats = WindowFeatures(depth=rng.random((t, h, w)).astype(np.float32),
                           dino=rng.standard_normal((2, 4, 5, 768)).astype(np.float32), dino_frames=np.array([0, 3]))
    window = FrameWindow(index=0, start=0, frames=np.zeros((t, h, w, 3), np.uint8), emit_from=0, is_last=True)
    return window, tracks, feats


def test_prepare_from_tracks_contract():
    _, tracks, feats = _window_and_tracks()
    prep = prepare_from_tracks(tracks, feats, (24, 32))
    assert len(prep.kept) == 57 and prep.inputs.dino.shape == (57, 768)
    np.testing.assert_array_equal(prep.inputs.visib_value, tracks.visible[3:].astype(np.float32))
    np.testing.assert_array_equal(prep.inputs.confi_value, tracks.confidence[3:])
    assert prep.visible.any(axis=0).all()


def test_official_labeller_torch_backend(tmp_path):
    pytest.importorskip("torch")
    from motionseg_trt.config import RunConfig
    from motionseg_trt.motion.classifier.labeller import OfficialClassifierLabeller

    window, tracks, feats = _window_and_tracks()
    cfg = RunConfig(models="official", motion_model="official", backend="torch", engine_cache=str(tmp_path),
                    extra={"random_weights": True})
    labels = OfficialClassifierLabeller(cfg).label(window, tracks, feats)
    assert labels.prob.shape == (60,) and labels.moving.shape == (60,)
    assert (labels.prob[:3] == 0).all() and not labels.moving[:3].any()
    assert 3 <= labels.moving.sum() <= 57
    grouped = OfficialClassifierLabeller(
        RunConfig(models="official", motion_model="official", backend="torch", engine_cache=str(tmp_path),
                  extra={"random_weights": True, "max_tracks": 20})).label(window, tracks, feats)
    assert (grouped.prob[3:] > 0).all()  # every track gets a probability when split into groups


def test_official_labeller_needs_a_checkpoint(tmp_path):
    from motionseg_trt.config import RunConfig
    from motionseg_trt.errors import ModelFileError
    from motionseg_trt.motion.classifier.labeller import OfficialClassifierLabeller

    cfg = RunConfig(models="official", motion_model="official", backend="torch",
                    classifier_checkpoint=str(tmp_path / "moseg.pth"))
    with pytest.raises(ModelFileError, match="moseg"):
        OfficialClassifierLabeller(cfg)


def test_group_size_follows_the_attention_budget():
    from motionseg_trt.motion.classifier.labeller import ClassifierLabellerCore, _attention_budget
    from motionseg_trt.config import RunConfig

    core = ClassifierLabellerCore(None, PreprocessConfig(), attention_budget_bytes=2 * 32 * 4 * 4 * 1000 ** 2)
    assert core.group_size(32) == 1000 and core.group_size(8) == 2000
    assert ClassifierLabellerCore(None, PreprocessConfig()).group_size(32) == 5000
    assert _attention_budget(RunConfig(backend="torch")) is None
    assert _attention_budget(RunConfig(backend="onnxruntime", device="cuda")) is None
    assert _attention_budget(RunConfig(backend="onnxruntime"), 1.0) == 2 ** 30
