"""SAM2 prompting logic (Stage 1 grouping, Stage 2 re-prompting, merge, streaming ids).

The pure-logic tests use ``GroundTruthSegmenterStandIn``, a deterministic stand-in for SAM2 that
answers a click with the ground-truth object under it: it only exists so that the *prompting
algorithm* can be checked against known answers. The SAM2 session itself is exercised with a
random-init SAM2-tiny at the bottom (where mask quality is irrelevant).
"""
from __future__ import annotations

import numpy as np
import pytest

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow, MotionLabels, Tracks
from motionseg_trt.masks.sam2 import prompting as P
from motionseg_trt.masks.sam2.densifier import Sam2Densifier

H, W = 48, 64


# ------------------------------------------------------------------------ a synthetic two-object clip
def two_object_clip(t_len: int = 20):
    """Two rectangles moving in opposite directions over a static background.

    Returns frames, a ground-truth label video (1 = left object, 2 = right object) and tracks:
    a 4x4 grid on each object (moving) plus background tracks (static)."""
    labels = np.zeros((t_len, H, W), np.uint8)
    frames = np.full((t_len, H, W, 3), 30, np.uint8)
    a0, b0 = np.array([6.0, 8.0]), np.array([40.0, 26.0])
    va, vb = np.array([1.0, 0.5]), np.array([-1.0, -0.25])
    xy, moving = [], []
    for k, (o, v) in enumerate(((a0, va), (b0, vb)), start=1):
        for t in range(t_len):
            x, y = (o + v * t).round().astype(int)
            labels[t, y:y + 12, x:x + 14] = k
            frames[t, y:y + 12, x:x + 14] = 80 * k
        g = np.stack(np.meshgrid(np.arange(2, 13, 3.5), np.arange(2, 11, 3)), -1).reshape(-1, 2)
        xy += [np.stack([o + p + v * t for t in range(t_len)]) for p in g]
        moving += [True] * len(g)
    rng = np.random.default_rng(0)
    for p in rng.random((15, 2)) * [W - 1, H - 1]:
        xy.append(np.repeat(p[None], t_len, 0))
        moving.append(False)
    xy = np.asarray(xy, np.float32)
    n = xy.shape[0]
    tracks = Tracks(xy=xy, visible=np.ones((n, t_len), bool), confidence=np.ones((n, t_len), np.float32),
                    ids=np.arange(n), query_frame=np.zeros(n, np.int64))
    mv = np.asarray(moving)
    return frames, labels, tracks, MotionLabels(prob=mv.astype(np.float32), moving=mv)


class GroundTruthSegmenterStandIn:
    """Stand-in for SAM2 in logic tests: a click selects the ground-truth object under it (the union
    over all clicks); propagation returns that object on every frame ahead of (or behind) the first
    prompt. Records every call."""

    def __init__(self, label_video: np.ndarray):
        self.labels = label_video
        self.num_frames = label_video.shape[0]
        self.calls = []
        self.reset()

    def reset(self):
        self.prompts = {}  # obj_id -> (first frame, set of gt labels)
        self.calls.append(("reset",))

    def _select(self, frame, points):
        ids = set()
        for x, y in np.asarray(points):
            v = int(self.labels[frame, int(np.clip(round(y), 0, H - 1)), int(np.clip(round(x), 0, W - 1))])
            if v:
                ids.add(v)
        return ids

    def add_points(self, frame, obj_id, points):
        self.calls.append(("points", frame, obj_id, len(points)))
        ids = self._select(frame, points)
        first, old = self.prompts.get(obj_id, (frame, set()))
        self.prompts[obj_id] = (min(first, frame), old | ids)
        return np.isin(self.labels[frame], list(ids)) if ids else np.zeros((H, W), bool)

    def add_mask(self, frame, obj_id, mask):
        self.calls.append(("mask", frame, obj_id))
        ids = set(np.unique(self.labels[frame][mask]).tolist()) - {0}
        self.prompts[obj_id] = (frame, ids)

    def propagate(self, reverse=False):
        self.calls.append(("propagate", reverse))
        ids = list(self.prompts)
        start = min(f for f, _ in self.prompts.values())
        order = range(start, -1, -1) if reverse else range(start, self.num_frames)
        for f in order:
            yield f, ids, np.stack([np.isin(self.labels[f], list(self.prompts[i][1])) for i in ids])


# ----------------------------------------------------------------------------------- small rules
def test_iteration_budget_and_canonical_frame():
    assert P.max_grouping_iterations(8) == 5
    assert P.max_grouping_iterations(100) == 7
    assert P.max_grouping_iterations(1000) == 10
    vis = np.zeros((10, 20), bool)
    vis[:, [3, 4, 9, 15]] = True  # the four most populated frames (20 % of 20) ...
    vis[:5, :] = True
    assert P.canonical_frame(vis) == 9  # ... their middle one in time (sorted 3, 4, 9, 15 -> index 2)
    # the top frames have no visible track at all -> fall back to the most populated frame
    empty = np.zeros((4, 10), bool)
    empty[0, 7] = True
    assert P.canonical_frame(empty) == 7


def test_dilation_is_6x6_three_times():
    m = np.zeros((40, 40), bool)
    m[20, 20] = True
    d = P.dilate(m)
    ys, xs = np.nonzero(d)
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (16, 16)  # 1 + 3 * 5 each way


def test_points_in_mask_uses_the_pixel_under_the_point():
    m = np.zeros((10, 10), bool)
    m[4, 6] = True
    pts = np.array([[6.4, 3.6], [5.6, 4.4], [6.6, 4.0], [-3, 50]], np.float32)
    assert P.points_in_mask(m, pts).tolist() == [True, True, False, False]


# ------------------------------------------------------------------------------ Stage 1 / Stage 2
def test_grouping_two_moving_objects_gives_two_objects():
    frames, gt, tracks, labels = two_object_clip()
    seg = GroundTruthSegmenterStandIn(gt)
    mv = labels.moving
    objs = P.group_objects(seg, tracks.xy[mv], tracks.visible[mv])
    assert len(objs) == 2
    owners = [set(np.unique(gt[o.frame][o.mask]).tolist()) for o in objs]
    assert sorted(min(o) for o in owners) == [1, 2]
    # every track is assigned to the object it lies on
    n_a = int(mv.sum()) // 2
    assert sorted(len(o.tracks) for o in objs) == [n_a, n_a]
    assert P.canonical_frame(tracks.visible[mv]) == objs[0].frame


def test_segment_clip_gives_two_ids_with_full_masks():
    frames, gt, tracks, labels = two_object_clip()
    seg = GroundTruthSegmenterStandIn(gt)
    mv = labels.moving
    out = P.segment_clip(seg, tracks.xy[mv], tracks.visible[mv])
    assert [o.obj_id for o in out] == [1, 2]
    found = sorted(tuple(np.unique(gt[o.masks]).tolist()) for o in out)
    assert found == [(1,), (2,)]
    for o in out:
        k = int(np.unique(gt[o.masks])[0])
        assert (o.masks == (gt == k)).all()  # forward + backward propagation cover every frame


def test_an_object_needs_six_points_in_its_dilated_mask():
    frames, gt, tracks, labels = two_object_clip()
    mv = np.flatnonzero(labels.moving)
    on_1, on_2 = mv[:12], mv[12:]
    few = np.r_[on_1[:5], on_2]  # 5 tracks on object 1, 12 on object 2
    objs = P.group_objects(GroundTruthSegmenterStandIn(gt), tracks.xy[few], tracks.visible[few])
    assert len(objs) == 1
    assert set(np.unique(gt[objs[0].frame][objs[0].mask]).tolist()) == {2}
    # with <= 5 tracks in all, the official "take all" rule keeps the group anyway
    objs = P.group_objects(GroundTruthSegmenterStandIn(gt), tracks.xy[on_1[:5]], tracks.visible[on_1[:5]])
    assert len(objs) == 1 and len(objs[0].tracks) == 5


def test_stage2_prompts_every_16th_frame_and_reprompts_with_three_points():
    t_len = 40
    gt = np.zeros((t_len, H, W), np.uint8)
    gt[:, 10:30, 10:30] = 1
    # 10 points: 6 on the object, 4 off it, so one click gives < 70 % inside -> re-prompt with 3
    pts = np.array([[12, 12], [14, 14], [16, 16], [18, 18], [20, 20], [22, 22],
                    [40, 40], [45, 42], [50, 40], [55, 44]], np.float32)
    xy = np.repeat(pts[:, None], t_len, 1)
    vis = np.ones((10, t_len), bool)
    seg = GroundTruthSegmenterStandIn(gt)
    P.refine_object(seg, 1, xy, vis, canonical=20)
    clicks = [c for c in seg.calls if c[0] == "points"]
    assert [c[1] for c in clicks if c[3] == 1] == [20, 0, 16, 32]  # canonical first, then every 16th
    assert all(c[3] == 3 for c in clicks if c[3] != 1)  # the re-prompts use 3 points
    assert len(clicks) == 8
    # prompted at frame 0: nothing is behind a prompt, so no backward pass
    assert [c for c in seg.calls if c[0] == "propagate"] == [("propagate", False)]


def test_stage2_backward_pass_when_frame_0_is_not_prompted():
    t_len = 20
    gt = np.zeros((t_len, H, W), np.uint8)
    gt[:, 10:30, 10:30] = 1
    xy = np.repeat(np.array([[15, 15], [16, 18], [20, 20]], np.float32)[:, None], t_len, 1)
    vis = np.ones((3, t_len), bool)
    vis[:, :3] = False  # invisible at frame 0
    seg = GroundTruthSegmenterStandIn(gt)
    m = P.refine_object(seg, 1, xy, vis, canonical=10)
    assert ("propagate", True) in seg.calls
    assert (m == (gt == 1)).all()  # the backward pass reached frame 0


# ------------------------------------------------------------------------------------------ merge
def _box(t_len, y0, y1, x0, x1):
    m = np.zeros((t_len, 20, 20), bool)
    m[:, y0:y1, x0:x1] = True
    return m


def test_merge_iou_above_0_9():
    a = _box(10, 0, 10, 0, 10)
    b = a.copy()
    b[:, 9, 0] = False  # IoU 0.99
    c = _box(10, 0, 10, 0, 5)  # IoU 0.5 with a, but a covers it fully -> coverage rule
    d = _box(10, 12, 20, 12, 20)
    assert P.merge_groups([a, b, d]) == [[0, 1], [2]]
    assert P.merge_groups([a, c]) == [[0, 1]]


def test_merge_needs_30_percent_of_frames():
    a = _box(10, 0, 10, 0, 10)
    b = _box(10, 12, 20, 12, 20)
    b[:2] = a[:2]  # same mask in 2 of 10 frames: 20 % < 30 %
    assert P.merge_groups([a, b]) == [[0], [1]]
    b[:3] = a[:3]  # 30 %
    assert P.merge_groups([a, b]) == [[0, 1]]
    # only the frames given count
    assert P.merge_groups([a, b], frames=slice(5, 10)) == [[0], [1]]


def test_merge_is_transitive_and_empty_masks_never_merge():
    a = _box(6, 0, 10, 0, 10)
    b = _box(6, 0, 10, 0, 9)  # inside a
    c = _box(6, 0, 10, 0, 8)  # inside b
    e = np.zeros_like(a)
    assert P.merge_groups([c, e, a, b]) == [[0, 2, 3], [1]]


def test_compose_labels_lower_id_wins():
    a = _box(2, 0, 10, 0, 10)
    b = _box(2, 5, 15, 5, 15)
    lab = P.compose_labels([b, a], [2, 1], (2, 20, 20))
    assert lab[0, 7, 7] == 1 and lab[0, 12, 12] == 2 and lab[0, 19, 19] == 0


# ------------------------------------------------------------------------- streaming ids (densifier)
def _windows(frames, window, stride):
    n, start, emitted, idx = len(frames), 0, 0, 0
    while True:
        end = min(start + window, n)
        yield FrameWindow(index=idx, start=start, frames=frames[start:end], emit_from=emitted - start,
                          is_last=end >= n)
        emitted = end
        if end >= n:
            return
        start, idx = start + stride, idx + 1


def _window_tracks(tracks, labels, w):
    sl = slice(w.start, w.start + w.length)
    return (Tracks(xy=tracks.xy[:, sl], visible=tracks.visible[:, sl], confidence=tracks.confidence[:, sl],
                   ids=tracks.ids, query_frame=tracks.query_frame), labels)


def test_densifier_keeps_ids_across_windows():
    frames, gt, tracks, labels = two_object_clip(t_len=28)
    current = {}  # the window being densified: its ground truth feeds the stand-in
    dens = Sam2Densifier(RunConfig(densifier="sam2"),
                         session_factory=lambda f: GroundTruthSegmenterStandIn(current["gt"]))
    out = []
    for w in _windows(frames, 12, 8):
        current["gt"] = gt[w.start:w.start + w.length]
        t, lab = _window_tracks(tracks, labels, w)
        wm = dens.densify(w, t, lab)
        assert wm.start == w.start + w.emit_from and wm.labels.shape == (w.length - w.emit_from, H, W)
        out.append(wm.labels)
    full = np.concatenate(out)
    assert full.shape[0] == 28
    # one id per object for the whole video, and it is the object's pixels every frame
    pairs = {(int(g), int(p)) for g, p in zip(gt.ravel(), full.ravel())}
    assert pairs == {(0, 0), (1, 1), (2, 2)} or pairs == {(0, 0), (1, 2), (2, 1)}


def test_densifier_offline_window_is_the_official_procedure():
    frames, gt, tracks, labels = two_object_clip()
    dens = Sam2Densifier(RunConfig(densifier="sam2", offline=True),
                         session_factory=lambda f: GroundTruthSegmenterStandIn(gt))
    w = FrameWindow(index=0, start=0, frames=frames, emit_from=0, is_last=True)
    wm = dens.densify(w, tracks, labels)
    assert wm.object_ids == [1, 2]
    assert set(np.unique(wm.labels[gt == 1])) | set(np.unique(wm.labels[gt == 2])) == {1, 2}
    assert (wm.labels[gt == 0] == 0).all()


def test_low_confidence_tracks_are_not_visible():
    frames, gt, tracks, labels = two_object_clip()
    tracks.confidence[:] = 0.5  # nothing passes the official > 0.9 gate
    dens = Sam2Densifier(RunConfig(densifier="sam2"), session_factory=lambda f: GroundTruthSegmenterStandIn(gt))
    wm = dens.densify(FrameWindow(index=0, start=0, frames=frames, emit_from=0, is_last=True), tracks, labels)
    assert wm.object_ids == [] and not wm.labels.any()


# ------------------------------------------------------------------ the SAM2 session (random weights)
@pytest.fixture(scope="module")
def tiny_sam2():
    pytest.importorskip("sam2")
    import torch

    torch.set_num_threads(1)
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model

    return build_sam2_video_model("sam2.1_hiera_t", None, image_size=128, seed=0)


def test_sam2_session_prompts_and_propagates_both_ways(tiny_sam2):
    from motionseg_trt.masks.sam2.session import Sam2VideoSession

    frames, gt, tracks, labels = two_object_clip(t_len=4)
    s = Sam2VideoSession(tiny_sam2, frames)
    m = s.add_points(2, 1, np.array([[12.0, 14.0]], np.float32))
    assert m.shape == (H, W) and m.dtype == bool
    s.add_points(2, 1, np.array([[12.0, 14.0], [20, 16], [8, 10]], np.float32))  # replaces the click
    fwd = [f for f, ids, ms in s.propagate(False)]
    bwd = [f for f, ids, ms in s.propagate(True)]
    assert fwd == [2, 3] and bwd == [2, 1, 0]
    # image features survive resets: each frame was encoded once
    assert sorted(s.state["cached_features"]) == [0, 1, 2, 3]
    s.reset()
    s.add_mask(0, 7, gt[0] == 1)
    out = list(s.propagate(False))
    assert [f for f, _, _ in out] == [0, 1, 2, 3] and out[0][1] == [7]


def test_ids_past_255_reuse_ids_of_objects_no_longer_tracked():
    frames, gt, tracks, labels = two_object_clip()
    dens = Sam2Densifier(RunConfig(densifier="sam2"), session_factory=lambda f: GroundTruthSegmenterStandIn(gt))
    dens._next_id = 255  # as after 254 objects that came and went
    dens._carried = {}
    w = FrameWindow(index=0, start=0, frames=frames, emit_from=0, is_last=True)
    wm = dens.densify(w, tracks, labels)
    assert wm.object_ids == [1, 255] and wm.labels.dtype == np.uint8


def test_frames_shared_by_two_windows_are_encoded_once(tiny_sam2):
    frames, gt, tracks, labels = two_object_clip(t_len=10)
    encoded = []
    real = tiny_sam2.forward_image

    def counting(img):
        encoded.append(img.clone())
        return real(img)

    tiny_sam2.forward_image = counting
    try:
        dens = Sam2Densifier(RunConfig(densifier="sam2", window=6, stride=4), predictor=tiny_sam2)
        outs = [dens.densify(w, *_window_tracks(tracks, labels, w)) for w in _windows(frames, 6, 4)]
    finally:
        del tiny_sam2.forward_image  # back to the class method
    assert sum(o.labels.shape[0] for o in outs) == 10
    # windows [0, 6) and [4, 10): 10 distinct frames, each encoded once (SAM2 visits every frame)
    assert len(encoded) == 10
