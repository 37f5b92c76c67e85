"""The embedded DIS flow tracker on generated scenes with exactly known motion."""
from __future__ import annotations

import numpy as np
import pytest

from _scenes import Square, make_scene, windows
from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow
from motionseg_trt.tracks.flow import bilinear
from motionseg_trt.tracks.flow_tracker import FlowTracker

PAN = (1.5, 0.5)
SQUARE = Square(40, 30, 28, (1.5, 1.0), seed=5)


@pytest.fixture(scope="module")
def scene():
    return make_scene(num_frames=18, height=96, width=128, pan=PAN, squares=(SQUARE,))


def _inside(labels: np.ndarray, xy: np.ndarray, margin: int = 0) -> np.ndarray:
    """Whether points fall inside the label image's foreground (eroded by ``margin`` px)."""
    import cv2

    fg = labels > 0
    if margin:
        fg = cv2.erode(fg.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    x = np.clip(np.round(xy[:, 0]).astype(int), 0, fg.shape[1] - 1)
    y = np.clip(np.round(xy[:, 1]).astype(int), 0, fg.shape[0] - 1)
    return fg[y, x]


def _offline(frames):
    return FrameWindow(index=0, start=0, frames=frames, emit_from=0, is_last=True)


def test_bilinear_lookup_is_exact_on_a_linear_field():
    h, w = 7, 9
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.stack([2 * xs + 1, 3 * ys - xs], -1)
    pts = np.array([[0.0, 0.0], [3.25, 2.5], [7.9, 5.99], [8.0, 6.0]], np.float32)
    want = np.stack([2 * pts[:, 0] + 1, 3 * pts[:, 1] - pts[:, 0]], 1)
    np.testing.assert_allclose(bilinear(field, pts), want, atol=1e-4)


def test_tracks_follow_the_true_motion(scene):
    tracks = FlowTracker(RunConfig()).track(_offline(scene.frames))
    last = scene.frames.shape[0] - 1
    both = tracks.visible[:, 0] & tracks.visible[:, last]
    xy0, xyl = tracks.xy[both, 0], tracks.xy[both, last]
    on_square = _inside(scene.labels[0], xy0, margin=3)
    on_background = ~_inside(scene.labels[0], xy0) & ~_inside(scene.labels[last], xyl)
    assert on_background.sum() > 100 and on_square.sum() > 10
    bg_err = np.linalg.norm(xyl[on_background] - scene.background_position(xy0[on_background], last), axis=1)
    sq_err = np.linalg.norm(xyl[on_square] - (xy0[on_square] + np.array(SQUARE.velocity) * last), axis=1)
    assert np.median(bg_err) < 1.0, np.median(bg_err)
    assert np.median(sq_err) < 1.0, np.median(sq_err)


def test_occluded_points_are_flagged_not_visible(scene):
    tracks = FlowTracker(RunConfig()).track(_offline(scene.frames))
    # background tracks seen at frame 0 whose true position is later deep under the moving square
    start_bg = tracks.visible[:, 0] & ~_inside(scene.labels[0], tracks.xy[:, 0])
    occluded_any, flagged = 0, 0
    for t in range(4, scene.frames.shape[0]):
        true_xy = scene.background_position(tracks.xy[:, 0], t)
        under = start_bg & _inside(scene.labels[t], true_xy, margin=3)
        occluded_any += int(under.sum())
        flagged += int((~tracks.visible[under, t]).sum())
    assert occluded_any > 20
    assert flagged / occluded_any > 0.9


def test_reseeding_covers_new_content_and_disocclusions(scene):
    tracker = FlowTracker(RunConfig())
    tracks = tracker.track(_offline(scene.frames))
    s = tracker.spacing
    h, w = scene.frames.shape[1:3]
    for t in (0, scene.frames.shape[0] - 1):
        xy = tracks.xy[tracks.visible[:, t], t]
        cells = set(zip((xy[:, 0] // s).astype(int).tolist(), (xy[:, 1] // s).astype(int).tolist()))
        all_cells = {(i, j) for i in range(int(np.ceil(w / s))) for j in range(int(np.ceil(h / s)))}
        assert len(cells & all_cells) / len(all_cells) > 0.97
    # tracks born after frame 0 exist, including on the content the pan revealed at the right edge
    born_late = tracks.query_frame > 0
    last = scene.frames.shape[0] - 1
    right_edge = tracks.xy[:, last, 0] > w - 1 - PAN[0] * last
    assert np.any(born_late & right_edge & tracks.visible[:, last])


def test_track_output_shapes_and_invisible_before_birth(scene):
    tracks = FlowTracker(RunConfig()).track(_offline(scene.frames))
    n, t = tracks.num_tracks, scene.frames.shape[0]
    assert tracks.xy.shape == (n, t, 2) and tracks.xy.dtype == np.float32
    assert tracks.visible.shape == (n, t) and tracks.visible.dtype == bool
    assert tracks.confidence.shape == (n, t) and tracks.confidence.dtype == np.float32
    assert tracks.ids.dtype == np.int64 and len(np.unique(tracks.ids)) == n
    assert np.all(np.isfinite(tracks.xy))
    assert np.all((tracks.confidence >= 0) & (tracks.confidence <= 1))
    assert np.all(tracks.confidence[~tracks.visible] == 0)
    frame = np.arange(t)[None, :]
    assert not np.any(tracks.visible & (frame < tracks.query_frame[:, None]))
    assert np.all(tracks.visible[np.arange(n), tracks.query_frame])
    # a track never comes back after it ended
    ended = np.maximum.accumulate(np.diff(tracks.visible.astype(np.int8), axis=1) < 0, axis=1)
    assert not np.any(ended & tracks.visible[:, 1:])


def test_tracks_continue_across_windows_with_stable_ids(scene, monkeypatch):
    calls = []
    tracker = FlowTracker(RunConfig())
    real_pair = tracker._flow.pair
    monkeypatch.setattr(tracker._flow, "pair", lambda *a: calls.append(1) or real_pair(*a))
    out = [(w, tracker.track(w)) for w in windows(scene.frames, window=8, stride=4)]
    # every frame pair's flow was computed once, although windows overlap by half
    assert len(calls) == scene.frames.shape[0] - 1

    offline = FlowTracker(RunConfig()).track(_offline(scene.frames))
    for (w0, a), (w1, b) in zip(out, out[1:]):
        shared, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
        assert len(shared) > 0.5 * b.num_tracks
        overlap = w0.start + w0.length - w1.start
        sa = slice(w1.start - w0.start, w0.length)
        np.testing.assert_array_equal(a.xy[ia][:, sa][a.visible[ia][:, sa]], b.xy[ib][:, :overlap][b.visible[ib][:, :overlap]])
        np.testing.assert_array_equal(a.visible[ia][:, sa], b.visible[ib][:, :overlap])
        # tracks carried in from before the window report query frame 0
        carried = np.isin(b.ids, a.ids[a.query_frame < (w1.start - w0.start)])
        assert np.all(b.query_frame[carried] == 0)
        # streaming gives the same tracks as one offline window on the frames they share
        _, io, iw = np.intersect1d(offline.ids, b.ids, return_indices=True)
        np.testing.assert_allclose(offline.xy[io][:, w1.start:w1.start + b.num_frames][b.visible[iw]],
                                   b.xy[iw][b.visible[iw]], atol=1e-5)


def test_number_of_tracks_stays_bounded():
    scene = make_scene(num_frames=10, height=120, width=214, pan=(3.0, 1.0),
                       squares=(Square(60, 40, 40, (-2.0, 2.0), seed=3),))
    tracker = FlowTracker(RunConfig(extra={"track_target": 600}))
    per_frame = []
    for w in windows(scene.frames, window=6, stride=3):
        tracks = tracker.track(w)
        per_frame.append(tracks.visible.sum(0).max())
        assert tracks.num_tracks < 4 * 600
    assert max(per_frame) <= tracker.max_per_cell * 600 * 1.2
    assert min(per_frame) >= 0.8 * 600 * 0.9


def test_a_new_video_or_a_gap_restarts_tracking_with_new_ids(scene):
    tracker = FlowTracker(RunConfig())
    a = tracker.track(FrameWindow(0, 0, scene.frames[:6], 0, False))
    b = tracker.track(FrameWindow(1, 10, scene.frames[10:16], 0, True))  # frames 6..9 never came
    assert not np.intersect1d(a.ids, b.ids).size
    assert np.all(b.query_frame[b.visible[:, 0]] == 0)


def test_flow_on_two_threads_equals_flow_on_one(scene):
    """The backward flow runs beside the forward one (two DIS instances): the same flows as in turn,
    and so the same tracks."""
    import cv2

    from motionseg_trt.tracks.flow import DenseFlow

    g0, g1 = (cv2.cvtColor(scene.frames[i], cv2.COLOR_RGB2GRAY) for i in (0, 1))
    a = DenseFlow(parallel=True).pair(g0, g1, 1.0)
    b = DenseFlow(parallel=False).pair(g0, g1, 1.0)
    assert np.array_equal(a.forward, b.forward) and np.array_equal(a.backward, b.backward)
    assert not np.array_equal(a.forward, a.backward)
    one, two = FlowTracker(RunConfig(threads=1)), FlowTracker(RunConfig(threads=2))
    for w in windows(scene.frames, 8, 4):
        t1, t2 = one.track(w), two.track(w)
        assert np.array_equal(t1.xy, t2.xy) and np.array_equal(t1.visible, t2.visible)


def test_finest_flow_level_keeps_the_flow_resolution():
    from motionseg_trt.tracks.flow import FINEST_SIDE, DenseFlow

    flow = DenseFlow(flow_side=480)
    flow._fit_to((270, 480))
    assert FINEST_SIDE == 480 and flow._dis.getFinestScale() == 0
    flow._fit_to((540, 960))
    assert flow._dis.getFinestScale() == 1 == flow._dis_back.getFinestScale()
    pinned = DenseFlow(finest_scale=2)
    pinned._fit_to((270, 480))
    assert pinned._dis.getFinestScale() == 2
