"""Which input frames the stages see: sampling in time, repeated frames, scene cuts, windows at cuts."""
from __future__ import annotations

import numpy as np
import pytest
from _footage import SceneSpec, render

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import VideoInfo
from motionseg_trt.io.cuts import CutDetector, change, cut_features
from motionseg_trt.io.decode import DecodeStatus, InputFrame
from motionseg_trt.io.timeline import Frame, Timeline, choose_sampling
from motionseg_trt.io.windows import VideoSource


class _Frame(InputFrame):
    __slots__ = ("_image",)

    def __init__(self, image, index, time):
        super().__init__(index, time)
        self._image = image

    def image(self):
        return self._image

    def thumbnail(self):
        return self._image


class _Reader:
    """Given frames at ``fps`` (or at the given times) as a reader's input frames."""

    def __init__(self, frames, fps=24.0, times=None):
        self.frames, self.fps = frames, fps
        self.times = times if times is not None else [i / fps for i in range(len(frames))]
        h, w = frames[0].shape[:2]
        self.info = VideoInfo("x", w, h, w, h, fps, len(frames))
        self.status = DecodeStatus()

    def input_frames(self):
        for i, (f, t) in enumerate(zip(self.frames, self.times)):
            self.status.frames_decoded += 1
            yield _Frame(f, i, t)


TINTS = [(1.0, 1.0, 1.0), (1.0, 0.75, 0.5), (0.55, 0.8, 1.0), (0.8, 1.0, 0.6)]


def _scene(seconds, fps, seed=0, size=(128, 72)):
    """A scene of its own look (a colour cast per seed: the two sides of a cut look different)."""
    frames, _ = render(SceneSpec(seed=seed, tint=TINTS[seed % len(TINTS)]), seconds, fps, size)
    return list(frames)


def _indices(timeline):
    return [(f.index, f.cut) for f in timeline]


# ------------------------------------------------------------------ sampling
@pytest.mark.parametrize("fps,expect", [(24, ("all", None)), (30, ("all", None)), (47.952, ("fps", 24.0)),
                                        (60, ("fps", 24.0)), (120, ("fps", 24.0)), (12, ("all", None))])
def test_automatic_sampling(fps, expect):
    s = choose_sampling(fps)
    assert (s.mode, s.fps) == expect and s.auto


def test_fps_and_vid_stride_override():
    assert choose_sampling(60, fps=30).rate(60) == 30
    assert choose_sampling(60, vid_stride=3).rate(60) == 20
    assert choose_sampling(60, vid_stride=1).mode == "all"
    with pytest.raises(ValueError):
        choose_sampling(60, fps=30, vid_stride=2)


def test_60fps_is_sampled_to_24_per_second():
    frames = _scene(2.0, 60)
    timeline = Timeline(_Reader(frames, 60))
    got = [f.index for f in timeline]
    assert len(got) == 48  # one per 1/24 s slot
    assert set(np.diff(got)) == {2, 3}  # 60 / 24 = 2.5 frames per slot
    assert timeline.report.frames_sampled_out == 120 - 48 and timeline.report.processed_fps == 24


def test_vid_stride_takes_every_nth_frame():
    frames = _scene(1.0, 60)
    got = [f.index for f in Timeline(_Reader(frames, 60), RunConfig(vid_stride=4))]
    assert got == list(range(0, 60, 4))


def test_variable_frame_rate_is_sampled_by_timestamps():
    # 60 fps for a second, then 30 fps: still one frame per 1/24 s slot
    times = [i / 60 for i in range(60)] + [1 + i / 30 for i in range(30)]
    frames = _scene(2.0, 45)[:90]
    got = [f.time for f in Timeline(_Reader(frames, 48, times), RunConfig(fps=24))]
    assert len(got) == 48 and np.all(np.diff(got) < 1 / 24 + 1 / 30 + 1e-9)


# ------------------------------------------------------------------ repeated frames
def test_repeated_frames_are_not_processed():
    # a 24 fps film stored at 60 fps: every picture shown 2 or 3 times, each time re-encoded noise-free
    source = _scene(1.0, 24)
    shows = [int(np.floor(i * 24 / 60)) for i in range(60)]
    rng = np.random.default_rng(0)
    frames = [np.clip(source[j].astype(np.int16) + rng.integers(-2, 3, source[j].shape), 0, 255).astype(np.uint8)
              for j in shows]  # coding noise of a few levels
    timeline = Timeline(_Reader(frames, 60), RunConfig(vid_stride=1))
    got = [f.index for f in timeline]
    assert [shows[i] for i in got] == list(range(24))  # each picture exactly once
    assert timeline.report.frames_repeated == 60 - 24


def test_a_repeat_threshold_of_zero_keeps_every_frame():
    frames = [_scene(0.2, 24)[0]] * 5
    timeline = Timeline(_Reader(frames), RunConfig(extra={"dup_max_diff": 0}))
    assert len(list(timeline)) == 5


# ------------------------------------------------------------------ cuts
def test_cuts_are_found_and_nothing_else():
    a, b, c = _scene(1.0, 24, seed=1), _scene(1.0, 24, seed=2), _scene(0.5, 24, seed=3)
    timeline = Timeline(_Reader(a + b + c))
    got = _indices(timeline)
    assert [i for i, cut in got if cut] == [24, 48]
    assert timeline.report.cuts == [24, 48] and len(got) == 60


def test_a_cut_on_a_frame_the_sampling_skips_is_processed():
    a, b = _scene(1.0, 60, seed=1), _scene(1.0, 60, seed=2)
    got = _indices(Timeline(_Reader(a[:59] + b, 60)))  # the cut at input frame 59, in the slot of 58
    assert (58, False) in got and (59, True) in got


@pytest.mark.parametrize("length", [1, 2, 3])
def test_a_flash_is_not_a_cut(length):
    frames = _scene(1.5, 24, seed=4)
    for k in range(18, 18 + length):  # a camera flash: the picture brightened, then back
        frames[k] = np.clip(frames[k].astype(np.float32) * 0.4 + 0.6 * 255, 0, 255).astype(np.uint8)
    assert not any(cut for _, cut in _indices(Timeline(_Reader(frames))))


def test_fast_motion_is_not_a_cut():
    # the camera pans a quarter of the frame per frame: everything changes, the colours do not
    frames, _ = render(SceneSpec(seed=5, pan=(800.0, 0.0)), 0.5, 24, (128, 72))
    assert not any(cut for _, cut in _indices(Timeline(_Reader(list(frames)))))
    feats = [cut_features(f) for f in frames]
    assert min(change(feats[i - 1], feats[i]) for i in range(1, len(feats))) > 0.1  # it did change


def test_cut_detection_can_be_turned_off():
    a, b = _scene(1.0, 24, seed=1), _scene(1.0, 24, seed=2)
    assert not CutDetector(RunConfig(extra={"cut_detect": False})).enabled
    got = _indices(Timeline(_Reader(a + b), RunConfig(extra={"cut_detect": False})))
    assert not any(cut for _, cut in got)


# ------------------------------------------------------------------ windows at cuts
@pytest.mark.parametrize("cut_at", [5, 8, 11, 16, 23])
@pytest.mark.parametrize("offline", [False, True])
def test_windows_end_at_a_cut(cut_at, offline):
    frames = [Frame(np.full((2, 2, 3), i, np.uint8), index=i, time=i / 24, cut=i == cut_at) for i in range(30)]
    windows = list(VideoSource(iter(frames), 8, 4, offline=offline))
    emitted = [i for w in windows for i in w.emit_range]
    assert emitted == list(range(30))
    for w in windows:
        frame_ids = w.frame_index.tolist()
        assert all(i < cut_at for i in frame_ids) or all(i >= cut_at for i in frame_ids)  # never across
        assert w.scene == int(frame_ids[0] >= cut_at)
        assert w.times[0] == frame_ids[0] / 24
    first_after = next(w for w in windows if w.scene == 1)
    assert first_after.emit_from == 0 and first_after.frame_index[0] == cut_at
    assert windows[-1].is_last and not any(w.is_last for w in windows[:-1])
