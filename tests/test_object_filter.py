"""The object filter: evidence (area, duration, score), ids 1..K in order of appearance, no id across a
scene cut, frames held back no longer than the evidence needs."""
from __future__ import annotations

import numpy as np
import pytest

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow, MotionLabels, Tracks, WindowMasks
from motionseg_trt.masks.objects import ObjectFilter

H, W = 60, 80


def _box(labels, obj, x, y, side):
    labels[y:y + side, x:x + side] = obj


class _Clip:
    """Frames of densifier labels, with tracks on a grid (moving where ``moving`` says)."""

    def __init__(self, n):
        self.labels = np.zeros((n, H, W), np.uint8)
        gx, gy = np.meshgrid(np.arange(2, W, 4), np.arange(2, H, 4))
        self.grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
        self.prob = np.full((n, len(self.grid)), 0.05, np.float32)  # per frame: the tracks' probability

    def set_prob(self, t, region, p):
        x, y = self.grid[:, 0].astype(int), self.grid[:, 1].astype(int)
        self.prob[t, region[y, x]] = p

    def feed(self, filt, window=8, stride=4, fps=24.0, scenes=None):
        """Windows as the pipeline makes them; returns the frames the filter lets out, in order."""
        n = len(self.labels)
        out, start, emitted, index = [], 0, 0, 0
        while emitted < n:
            end = min(start + window, n)
            local = np.arange(start, end)
            times = local / fps
            # (a real window never spans a cut; here the cut falls on an emission boundary)
            scene = int(scenes[emitted]) if scenes is not None else 0
            win = FrameWindow(index=index, start=start, frames=np.zeros((len(local), H, W, 3), np.uint8),
                              emit_from=emitted - start, is_last=end >= n, times=times, frame_index=local,
                              scene=scene)
            k = len(self.grid)
            # one track per grid point, its probability that of its newest frame (what a labeller gives)
            tracks = Tracks(xy=np.repeat(self.grid[:, None], len(local), 1), visible=np.ones((k, len(local)), bool),
                            confidence=np.ones((k, len(local)), np.float32), ids=np.arange(k),
                            query_frame=np.zeros(k, np.int64))
            prob = self.prob[end - 1]
            labels = MotionLabels(prob=prob, moving=prob > 0.5)
            masks = WindowMasks(start=emitted, labels=self.labels[emitted:end])
            out += filt.add(win, tracks, labels, masks)
            emitted, start, index = end, start + stride, index + 1
        return out + filt.flush()


def _ids(frames):
    return [sorted(int(i) for i in np.unique(f.labels) if i) for f in frames]


def test_ids_are_contiguous_in_order_of_appearance_and_ghosts_are_erased():
    clip = _Clip(40)
    for t in range(40):
        if t >= 5:
            _box(clip.labels[t], 9, 40, 10, 20)  # appears second, densifier id 9
        _box(clip.labels[t], 5, 5, 30, 16)  # appears first, densifier id 5
        if 20 <= t < 23:
            _box(clip.labels[t], 7, 60, 45, 3)  # a ghost: 9 px, 3 frames
        clip.set_prob(t, clip.labels[t] > 0, 0.95)
    filt = ObjectFilter(RunConfig())
    out = clip.feed(filt)
    assert [f.index for f in out] == list(range(40))  # every frame, in order
    assert _ids(out)[0] == [1]
    assert _ids(out)[10] == [1, 2] and _ids(out)[21] == [1, 2]  # no 3: the ghost is gone
    assert (out[10].labels[10:30, 40:60] == 2).all() and (out[10].labels[30:46, 5:21] == 1).all()
    assert filt.num_objects == 2 and filt.object_scores()[1] > 0.9
    assert [ev["median_area"] for ev in filt.report()["dropped"]] == [pytest.approx(9 / (H * W), abs=1e-5)]


@pytest.mark.parametrize("frames,kept", [(9, False), (10, True)])
def test_minimum_duration(frames, kept):
    # 0.4 s at 24 fps is 9.6 frames: from its first to its last frame plus one frame
    clip = _Clip(30)
    for t in range(5, 5 + frames):
        _box(clip.labels[t], 1, 20, 20, 20)
        clip.set_prob(t, clip.labels[t] > 0, 0.9)
    out = clip.feed(ObjectFilter(RunConfig()))
    assert any(f.labels.any() for f in out) == kept


def test_minimum_area_and_score_and_their_options():
    clip = _Clip(30)
    for t in range(30):
        _box(clip.labels[t], 1, 4, 4, 6)  # 36 px: 0.75 % of the frame, a clear moving object
        _box(clip.labels[t], 2, 40, 20, 30)  # large, but its tracks are static: no motion evidence
        clip.set_prob(t, clip.labels[t] == 1, 0.9)
    assert _ids(clip.feed(ObjectFilter(RunConfig())))[-1] == [1]
    assert _ids(clip.feed(ObjectFilter(RunConfig(extra={"obj_min_area": 0.01}))))[-1] == []
    assert _ids(clip.feed(ObjectFilter(RunConfig(extra={"obj_min_score": 0.0}))))[-1] == [1, 2]


def test_frames_wait_only_as_long_as_the_evidence_needs():
    clip = _Clip(48)
    for t in range(48):
        _box(clip.labels[t], 1, 20, 20, 20)
        clip.set_prob(t, clip.labels[t] > 0, 0.9)
    filt = ObjectFilter(RunConfig())
    win = FrameWindow(index=0, start=0, frames=np.zeros((16, H, W, 3), np.uint8), emit_from=0, is_last=False,
                      times=np.arange(16) / 24.0, frame_index=np.arange(16))
    tracks = Tracks(xy=np.repeat(clip.grid[:, None], 16, 1), visible=np.ones((len(clip.grid), 16), bool),
                    confidence=np.ones((len(clip.grid), 16), np.float32), ids=np.arange(len(clip.grid)),
                    query_frame=np.zeros(len(clip.grid), np.int64))
    out = filt.add(win, tracks, MotionLabels(prob=clip.prob[15], moving=clip.prob[15] > 0.5),
                   WindowMasks(start=0, labels=clip.labels[:16]))
    # frames 0..6 are 0.4 s older than frame 15 (15 / 24 - 6 / 24 = 0.375 < 0.4 < 0.417): 6 leave
    assert [f.index for f in out] == list(range(6)) and all(f.labels.any() for f in out)
    assert [f.index for f in filt.flush()] == list(range(6, 16))


def test_no_object_spans_a_scene_cut():
    clip = _Clip(40)
    scenes = np.array([0] * 20 + [1] * 20)
    for t in range(40):
        _box(clip.labels[t], 3, 20, 20, 20)  # the densifier kept its id across the cut
        clip.set_prob(t, clip.labels[t] > 0, 0.9)
    out = clip.feed(ObjectFilter(RunConfig()), window=8, stride=4, scenes=scenes)
    ids = _ids(out)
    assert all(i == [1] for i in ids[:20]) and all(i == [2] for i in ids[20:])


def test_per_frame_scores_come_with_the_output_ids():
    clip = _Clip(24)
    for t in range(24):
        _box(clip.labels[t], 4, 20, 20, 20)
        clip.set_prob(t, clip.labels[t] > 0, 0.8)
    out = clip.feed(ObjectFilter(RunConfig()))
    assert all(f.scores == {1: pytest.approx(0.8)} for f in out)


def test_an_object_found_again_under_a_new_id_keeps_its_id():
    clip = _Clip(40)
    for t in range(40):
        if t < 12:
            _box(clip.labels[t], 3, 10 + t, 20, 16)  # the densifier loses it after frame 11 ...
        elif t >= 14:
            _box(clip.labels[t], 8, 10 + t, 20, 16)  # ... and finds it again as 8, two frames later
        if t >= 20:
            _box(clip.labels[t], 6, 62, 40, 16)  # a new object, far from where 3 was
        clip.set_prob(t, clip.labels[t] > 0, 0.9)
    ids = _ids(clip.feed(ObjectFilter(RunConfig())))
    assert ids[:12] == [[1]] * 12 and ids[14:20] == [[1]] * 6 and ids[20:] == [[1, 2]] * 20
    # without relinking, the first part (12 frames) is an object of its own
    ids = _ids(clip.feed(ObjectFilter(RunConfig(extra={"obj_relink_s": 0}))))
    assert ids[:12] == [[1]] * 12 and ids[14] == [2] and ids[20] == [2, 3]


def test_a_scene_shorter_than_the_minimum_duration_keeps_an_object_that_spans_it():
    clip = _Clip(8)  # 0.33 s at 24 fps
    for t in range(8):
        _box(clip.labels[t], 1, 20, 20, 20)
        clip.set_prob(t, clip.labels[t] > 0, 0.9)
    assert all(i == [1] for i in _ids(clip.feed(ObjectFilter(RunConfig()))))
    clip.labels[:4] = 0  # half of the scene only: not enough
    assert not any(_ids(clip.feed(ObjectFilter(RunConfig()))))
