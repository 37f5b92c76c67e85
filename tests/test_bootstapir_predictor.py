"""BootsTapirTracker: the Tracks contract, the official query grid and coordinate mapping, streaming
ids and feature reuse.

The logic tests drive the predictor with a scripted engine (every query moves 3 working px per frame to
the right, some become occluded) so that the expected tracks are known exactly; one test runs the real
network (a small variant, random weights) through the whole predictor. Whether BootsTAPIR *tracks well*
cannot be checked without the real weights: not claimed here.
"""
import numpy as np
import pytest
import torch

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow
from motionseg_trt.tracks.bootstapir.predictor import (BootsTapirTracker, from_model_xy, grid_points, grid_spacing,
                                                       to_model_xy, visibility_from_logits)

SPEED = 3.0  # working px per frame


class ScriptedEngine:
    """Answers like the network would if every point moved SPEED px/frame right; points whose query x
    (model space) is > 200 are confidently occluded from two frames after their query frame on."""

    def __init__(self, height, width):
        self.h, self.w = height, width
        self.feature_frames = []  # frames computed per features() call

    def features(self, frames):
        self.feature_frames.append(len(frames))
        return np.zeros((len(frames), 1), np.float32), np.zeros((len(frames), 1), np.float32)

    def slice_frames(self, feats, index):
        return feats[np.asarray(index)]

    def concat_frames(self, parts):
        return np.concatenate(parts, 0)

    def track(self, hires, lowres, queries):
        t_len = hires.shape[0]
        t = np.arange(t_len, dtype=np.float32)[None, :]
        qt, qy, qx = queries[:, :1], queries[:, 1:2], queries[:, 2:3]
        speed_model = SPEED * 255.0 / (self.w - 1)
        x = qx + speed_model * (t - qt)
        y = np.broadcast_to(qy, x.shape)
        hidden = (qx > 200) & (t >= qt + 2)
        occ = np.where(hidden, 10.0, -10.0).astype(np.float32)
        expd = np.full_like(occ, -10.0)
        return {"tracks": np.stack([x, y], -1).astype(np.float32), "occlusion": occ, "expected_dist": expd}


def _clip(t, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (t, h, w, 3), dtype=np.uint8)


def _windows(video, window, stride):
    out, start, i = [], 0, 0
    while True:
        end = min(start + window, len(video))
        out.append(FrameWindow(i, start, video[start:end], 0 if i == 0 else window - stride, end == len(video)))
        if end == len(video):
            return out
        start += stride
        i += 1


def test_official_grid_and_coordinate_convention():
    assert grid_spacing(480, 854) == 6  # floor(sqrt(480*854/9000)) = floor(6.75)
    assert grid_spacing(48, 64) == 1
    assert grid_spacing(192, 256) == 2
    pts = grid_points(192, 256)
    assert len(pts) == 96 * 128 and pts.min() == 0 and (pts % 2 == 0).all()
    # the (size - 1) convention: model 255 is the last working pixel, model 0 the first
    np.testing.assert_allclose(from_model_xy(np.array([[255.0, 255.0], [0, 0]]), 480, 854), [[853, 479], [0, 0]])
    xy = np.array([[17.0, 3.0], [853.0, 479.0]], np.float32)
    np.testing.assert_allclose(from_model_xy(to_model_xy(xy, 480, 854), 480, 854), xy, atol=1e-4)


def test_visibility_and_confidence_rules():
    occ = np.array([[-5.0, 5.0, 0.0]])
    expd = np.array([[-5.0, -5.0, 5.0]])
    visible, v, confi = visibility_from_logits(occ, expd)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    np.testing.assert_allclose(v, 1 - sig(occ), atol=1e-6)
    assert visible.tolist() == [[True, False, False]]
    # visible -> c; confidently occluded -> c; neither (uncertain) -> 0
    np.testing.assert_allclose(confi, [[1 - sig(-5.0), 1 - sig(-5.0), 0.0]], atol=1e-6)


def test_one_window_tracks_contract_and_mapping():
    h, w = 192, 256
    video = _clip(12, h, w)
    engine = ScriptedEngine(h, w)
    tracker = BootsTapirTracker(RunConfig(), engine=engine)
    tr = tracker.track(FrameWindow(0, 0, video, 0, True))
    n, t = tr.num_tracks, tr.num_frames
    assert t == 12 and 0 < n <= 5000
    assert tr.xy.shape == (n, t, 2) and tr.xy.dtype == np.float32
    assert tr.visible.shape == tr.confidence.shape == tr.visib_value.shape == tr.confi_value.shape == (n, t)
    assert tr.visible.dtype == bool and tr.ids.dtype == np.int64 and tr.query_frame.dtype == np.int64
    assert len(np.unique(tr.ids)) == n
    assert set(np.unique(tr.query_frame)) == {0, 10}  # every 10th frame
    # each query frame contributed int(M / Q) draws (M = 12288 grid points, Q = 2) before the 5000 cap
    assert n == 5000
    rows = np.arange(n)
    at_q = tr.xy[rows, tr.query_frame]
    np.testing.assert_array_equal(at_q, np.round(at_q))  # exact integer grid points
    assert (at_q % 2 == 0).all()
    expect_x = at_q[:, :1] + SPEED * (np.arange(t)[None] - tr.query_frame[:, None])
    np.testing.assert_allclose(tr.xy[..., 0], expect_x, atol=1e-3)
    np.testing.assert_allclose(tr.xy[..., 1], np.broadcast_to(at_q[:, 1:], (n, t)), atol=1e-3)
    hidden = to_model_xy(at_q, h, w)[:, 0] > 200
    late = np.arange(t)[None] >= tr.query_frame[:, None] + 2
    assert not tr.visible[hidden[:, None] & late].any()
    assert tr.visible[~hidden].all()
    # confidently occluded points keep their confidence
    assert (tr.confi_value > 0.99).all()
    np.testing.assert_array_equal(tr.confidence, tr.confi_value)


def test_streaming_carries_ids_reuses_features_and_is_deterministic():
    h, w = 96, 128
    video = _clip(28, h, w, seed=1)
    windows = _windows(video, 12, 8)  # starts 0, 8, 16
    cfg = RunConfig(window=12, stride=8, extra={"tracker_max_tracks": 400})
    engine = ScriptedEngine(h, w)
    tracker = BootsTapirTracker(cfg, engine=engine)
    outs = [tracker.track(win) for win in windows]
    assert engine.feature_frames == [12, 8, 8]  # the 4 overlap frames are not recomputed
    for o in outs:
        assert o.num_tracks <= 400

    first, second, third = outs
    shared, i0, i1 = np.intersect1d(first.ids, second.ids, return_indices=True)
    assert len(shared) > 0
    # carried tracks are exactly those visible in the overlap (global 8..11), queried at their last
    # visible overlap frame, and they agree with the previous window there
    visible_in_overlap = first.visible[:, 8:12].any(1)
    assert set(shared) == set(first.ids[visible_in_overlap])
    np.testing.assert_allclose(second.xy[i1, 0:4], first.xy[i0, 8:12], atol=1e-3)
    last_vis = np.array([np.nonzero(first.visible[i, 8:12])[0].max() for i in i0])
    np.testing.assert_array_equal(second.query_frame[i1], last_vis)
    # window 2 (16..27) seeds at global 20 (local 4): new ids, above every earlier id
    new = ~np.isin(third.ids, np.concatenate([first.ids, second.ids]))
    assert new.any() and (third.query_frame[new] == 4).all()
    assert third.ids[new].min() > max(first.ids.max(), second.ids.max())

    again = BootsTapirTracker(cfg, engine=ScriptedEngine(h, w))
    for win, o in zip(windows, outs):
        r = again.track(win)
        np.testing.assert_array_equal(r.ids, o.ids)
        np.testing.assert_array_equal(r.xy, o.xy)


def test_real_network_through_the_predictor():
    """The small real network (2 mixer blocks, no extra convs, random init) on a tiny clip, in query
    chunks of 16: the contract holds end to end (values are meaningless with random weights)."""
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine
    from motionseg_trt.tracks.bootstapir.modeling import TAPIR
    from motionseg_trt.tracks.bootstapir.predictor import tracker_network

    torch.manual_seed(0)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = TAPIR(num_mixer_blocks=2, extra_convs=False).eval()
        cfg = RunConfig(extra={"tracker_max_tracks": 40, "tracker_query_chunk": 16})
        torch_cfg = RunConfig(backend="torch", extra={"tracker_query_chunk": 16})
        engine = TapirEngine.on_backend(torch_cfg, tracker_network(torch_cfg, lambda: model, "test"), query_chunk=16)
        tracker = BootsTapirTracker(cfg, engine=engine)
        tr = tracker.track(FrameWindow(0, 0, _clip(3, 40, 56, seed=2), 0, True))
    finally:
        torch.set_num_threads(prev)
    n = tr.num_tracks
    assert n <= 40 and tr.xy.shape == (n, 3, 2)
    assert np.isfinite(tr.xy).all() and np.isfinite(tr.confidence).all()
    assert ((tr.visib_value >= 0) & (tr.visib_value <= 1)).all()
    assert ((tr.confidence >= 0) & (tr.confidence <= 1)).all()
    assert tr.visible.any(1).all()  # tracks that are never visible are dropped
    if n:
        at_q = tr.xy[np.arange(n), tr.query_frame]
        np.testing.assert_array_equal(at_q, np.round(at_q))


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        BootsTapirTracker(RunConfig(backend="nope", extra={"random_weights": True})).engine


def test_tensorrt_profiles_cover_the_windows():
    from motionseg_trt.tracks.bootstapir.predictor import trt_profiles

    feats, track = trt_profiles(RunConfig(window=32), frame_chunk=10)
    assert feats["frames"] == ((1, 256, 256, 3), (10, 256, 256, 3), (10, 256, 256, 3))
    assert [p[0] for p in track["hires"]] == [2, 32, 32] and track["lowres"][2] == (32, 32, 32, 256)
    _, offline = trt_profiles(RunConfig(window=32, offline=True))
    assert offline["hires"][2][0] == 512  # one window is the whole clip
    _, custom = trt_profiles(RunConfig(window=16, extra={"tracker_max_frames": 100}))
    assert custom["lowres"][1][0] == 16 and custom["lowres"][2][0] == 100
