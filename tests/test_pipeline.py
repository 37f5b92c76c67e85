"""The streaming orchestrator: window stitching, outputs, timing, atomicity, stage dispatch, and the
real embedded stages finding the moving square (and not the static look-alike).

The ``_Fake*`` stages below are test doubles for the plumbing tests only (they label bright pixels);
the end-to-end tests at the bottom use the real stages from ``build_stages``.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _video import iou, make_corrupt_video, make_pan_clip, write_video
from PIL import Image

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import MotionLabels, Tracks, WindowFeatures, WindowMasks
from motionseg_trt.errors import InputError, ModelFileError, OptionError, OutputExistsError, UnavailableError
from motionseg_trt.features.none import NoFeatures
from motionseg_trt.pipeline import run_pipeline
from motionseg_trt.stages import Stage, Stages, build_stages


# ------------------------------------------------------------------ test doubles (plumbing tests only)
class _FakeTracker:
    def __init__(self):
        self.windows = []

    def track(self, window):
        self.windows.append((window.index, window.start, window.length, window.emit_from, window.is_last))
        t = window.length
        return Tracks(xy=np.zeros((0, t, 2), np.float32), visible=np.zeros((0, t), bool),
                      confidence=np.zeros((0, t), np.float32), ids=np.zeros(0, np.int64),
                      query_frame=np.zeros(0, np.int64))


class _FakeLabeller:
    def label(self, window, tracks, features):
        return MotionLabels(prob=np.zeros(0, np.float32), moving=np.zeros(0, bool))


class _BrightDensifier:
    """Object 1 = bright pixels of the emitted frames; optionally fails on a given window."""

    def __init__(self, fail_on=None, exc=RuntimeError):
        self.fail_on, self.exc = fail_on, exc

    def densify(self, window, tracks, labels, features=None):
        if window.index == self.fail_on:
            raise self.exc("boom")
        frames = window.frames[window.emit_from:]
        return WindowMasks(start=window.start + window.emit_from,
                           labels=(frames.mean(axis=3) > 128).astype(np.uint8), object_ids=[1])


# The doubles make no tracks, so no object would show evidence: the plumbing tests turn the object
# filter off (it has its own tests).
NO_FILTER = {"obj_min_score": 0, "obj_min_area": 0, "obj_min_duration": 0}


def _plumbing(**kw) -> RunConfig:
    return RunConfig(extra=dict(NO_FILTER), **kw)


def _fake_stages(**kw):
    return Stages(_FakeTracker(), NoFeatures(), _FakeLabeller(), _BrightDensifier(**kw))


def _square_clip(n=20, size=(80, 48), side=12):
    """Dark background, a bright square moving right: the bright-pixel double segments it exactly."""
    w, h = size
    frames = np.full((n, h, w, 3), 30, np.uint8)
    gt = np.zeros((n, h, w), bool)
    for t in range(n):
        x = 2 + 2 * t
        frames[t, 10:10 + side, x:x + side] = 220
        gt[t, 10:10 + side, x:x + side] = True
    return frames, gt


def _masks(out, n):
    return np.stack([np.asarray(Image.open(os.path.join(out, "masks", f"{i:05d}.png"))) for i in range(n)])


@pytest.fixture
def square_mp4(tmp_path):
    frames, gt = _square_clip()
    return write_video(str(tmp_path / "square.mp4"), frames, crf=8), gt


# ------------------------------------------------------------------------------------- plumbing
def test_streaming_run_writes_every_output(tmp_path, square_mp4):
    path, gt = square_mp4
    out = str(tmp_path / "out")
    stages = _fake_stages()
    summary = run_pipeline(_plumbing(input=path, out=out, window=8, stride=5, progress=False), stages)
    # windows of 8 every 5 frames; the last one keeps 8 frames and emits the 2 new ones
    assert stages.tracker.windows == [(0, 0, 8, 0, False), (1, 5, 8, 3, False), (2, 10, 8, 3, False),
                                      (3, 12, 8, 6, True)]
    assert summary["frames"] == 20 and summary["windows"] == 4 and summary["objects"] == 1
    assert summary["status"] == "complete"
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks", "objects.json", "overlay.mp4", "run.json"]
    masks = _masks(out, 20)
    assert np.mean([iou(m == 1, g) for m, g in zip(masks, gt)]) > 0.9
    run = json.load(open(os.path.join(out, "run.json")))
    assert set(run["seconds"]) >= {"decode", "tracks", "features", "motion", "masks", "write", "total"}
    assert run["fps"] > 0 and run["frames"] == 20 and run["mode"] == "streaming"
    assert run["config"]["window"] == 8 and run["input"]["width"] == 80
    assert {"motionseg_trt", "torch", "onnxruntime", "av", "cv2"} <= set(run["versions"])
    assert run["versions"]["av"] is not None
    objects = json.load(open(os.path.join(out, "objects.json")))["objects"]
    assert [(o["id"], o["first_frame"], o["last_frame"]) for o in objects] == [(1, 0, 19)]


def test_offline_is_one_window(tmp_path, square_mp4):
    path, _ = square_mp4
    stages = _fake_stages()
    summary = run_pipeline(_plumbing(input=path, out=str(tmp_path / "o"), offline=True, progress=False,
                                     write_overlay=False), stages)
    assert stages.tracker.windows == [(0, 0, 20, 0, True)]
    assert summary["frames"] == 20 and not os.path.exists(tmp_path / "o" / "overlay.mp4")


def test_large_input_runs_downscaled_and_masks_come_back_at_input_size(tmp_path):
    frames, gt = _square_clip(n=6, size=(160, 96), side=24)
    path = write_video(str(tmp_path / "big.mp4"), frames, crf=8)
    out = str(tmp_path / "out")
    stages = _fake_stages()
    summary = run_pipeline(_plumbing(input=path, out=out, max_side=80, progress=False), stages)
    run = json.load(open(os.path.join(out, "run.json")))
    assert (run["input"]["work_width"], run["input"]["work_height"]) == (80, 48)
    masks = _masks(out, summary["frames"])
    assert masks.shape == (6, 96, 160)
    assert np.mean([iou(m == 1, g) for m, g in zip(masks, gt)]) > 0.85


def test_frame_folder_input(tmp_path):
    from _video import write_frame_folder

    frames, gt = _square_clip(n=9)
    folder = write_frame_folder(str(tmp_path / "frames"), frames)
    summary = run_pipeline(_plumbing(input=folder, out=str(tmp_path / "o"), window=4, stride=2,
                                     progress=False), _fake_stages())
    assert summary["frames"] == 9
    assert (_masks(str(tmp_path / "o"), 9) == gt).all()  # lossless PNG frames: exact


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_crash_leaves_no_half_written_file(tmp_path, square_mp4, exc):
    path, _ = square_mp4
    out = tmp_path / "out"
    with pytest.raises(exc):
        run_pipeline(_plumbing(input=path, out=str(out), window=8, stride=4, progress=False),
                     _fake_stages(fail_on=2, exc=exc))
    # windows 0 and 1 were written: frames 0-11, each a complete PNG; nothing that looks final is left
    # (the marker says the partial results are ours: --overwrite may replace them)
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks"]
    names = sorted(os.listdir(out / "masks"))
    assert names == [f"{i:05d}.png" for i in range(12)]
    for name in names:
        Image.open(out / "masks" / name).load()  # complete, decodable files


def test_densifier_contract_is_checked(tmp_path, square_mp4):
    class Wrong(_BrightDensifier):
        def densify(self, window, tracks, labels, features=None):
            m = super().densify(window, tracks, labels)
            return WindowMasks(start=m.start, labels=m.labels[:-1])  # one frame short

    stages = Stages(_FakeTracker(), NoFeatures(), _FakeLabeller(), Wrong())
    with pytest.raises(RuntimeError, match="emits frames"):
        run_pipeline(_plumbing(input=square_mp4[0], out=str(tmp_path / "o"), progress=False), stages)


def test_nothing_is_created_for_bad_input_or_missing_models(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with pytest.raises(InputError):
        run_pipeline(_plumbing(input=str(tmp_path / "missing.mp4"), out=str(out), progress=False))
    assert not out.exists()

    frames, _ = _square_clip(n=3)
    path = write_video(str(tmp_path / "c.mp4"), frames)

    def no_model(config):
        raise ModelFileError("weights missing")

    monkeypatch.setattr("motionseg_trt.pipeline.build_stages", no_model)
    with pytest.raises(ModelFileError):
        run_pipeline(_plumbing(input=path, out=str(out), progress=False))
    assert not out.exists()


def test_existing_output_is_refused(tmp_path, square_mp4):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("x")
    with pytest.raises(OutputExistsError):
        run_pipeline(_plumbing(input=square_mp4[0], out=str(tmp_path / "o"), progress=False), _fake_stages())


def test_corrupt_input_still_writes_outputs_for_decoded_frames(tmp_path):
    frames, _ = _square_clip(n=24)
    path = make_corrupt_video(str(tmp_path / "bad.mp4"), frames, bad_packet=14)
    out = str(tmp_path / "out")
    summary = run_pipeline(_plumbing(input=path, out=out, window=8, stride=4, progress=False), _fake_stages())
    decoded = summary["decode"]["frames_decoded"]
    assert summary["status"] == "input-incomplete" and 0 < decoded < 24 and summary["frames"] == decoded
    assert len(os.listdir(os.path.join(out, "masks"))) == decoded
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["decode"]["stopped_at"] == decoded and "decoding failed" in run["decode"]["error"]
    assert any("decoding stopped" in w for w in run["warnings"])


# ----------------------------------------------------------------------------------- stage factory
def test_factory_builds_the_embedded_set():
    stages = build_stages(RunConfig(motion_model="geometric", densifier="embedded"))
    assert type(stages.tracker).__name__ == "FlowTracker"
    assert isinstance(stages.features, NoFeatures)
    assert stages.features.extract(None, None) == WindowFeatures()
    assert type(stages.labeller).__name__ == "GeometricLabeller"
    assert type(stages.densifier).__name__ == "EdgeFillDensifier"


def test_factory_errors_are_clear():
    with pytest.raises(UnavailableError, match="not part of this installation"):
        Stage("labeller", "x", "motionseg_trt.motion.no_such_model:X", ("embedded",)).load()
    with pytest.raises(UnavailableError, match="needs the Python package 'no_such_dependency'"):
        Stage("labeller", "x", "_module_needing_missing_dep:X", ("embedded",)).load()
    with pytest.raises(OptionError, match="--tracker bootstapir belongs to the official model set: add --models official"):
        build_stages(RunConfig(tracker="bootstapir"))
    with pytest.raises(OptionError, match="unknown labeller 'nope'; choose one of geometric, learned, appearance, official"):
        build_stages(RunConfig(motion_model="nope"))


# ----------------------------------------------------------------- end to end with the real stages
@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("pan") / "pan.mp4")
    return path, make_pan_clip(path, n_frames=24, size=(160, 120), seed=0)


@pytest.mark.parametrize("offline", [False, True])
def test_real_stages_find_the_moving_square_not_the_static_one(tmp_path, pan_clip, offline):
    path, clip = pan_clip
    out = str(tmp_path / "out")
    # the pipeline of before the appearance cues (motion only), which stays selectable
    config = RunConfig(input=path, out=out, window=12, stride=6, offline=offline, motion_model="geometric",
                       densifier="embedded", progress=False, write_overlay=False)
    summary = run_pipeline(config)
    masks = _masks(out, 24)
    found = masks > 0
    ious = [iou(f, g) for f, g in zip(found, clip.moving)]
    assert np.mean(ious) > 0.75 and min(ious) > 0.5
    static_hit = np.logical_and(found, clip.static).sum() / clip.static.sum()
    assert static_hit < 0.05
    # one object, with the same id in every frame: ids survive the window boundaries
    assert summary["objects"] == 1
    assert len(set(np.unique(masks).tolist()) - {0}) == 1


@pytest.mark.parametrize("n", [1, 2])
def test_real_stages_on_tiny_clips(tmp_path, pan_clip, n):
    from _video import make_pan_frames

    path = write_video(str(tmp_path / "tiny.mp4"), make_pan_frames(n, (96, 64)).frames)
    summary = run_pipeline(RunConfig(input=path, out=str(tmp_path / "o"), motion_model="geometric", progress=False))
    assert summary["frames"] == n and len(os.listdir(tmp_path / "o" / "masks")) == n


def test_the_stage_table_picks_each_kind():
    """A run's stages come from the registry: the model set's defaults, what was asked for, and the
    features stage the labeller needs."""
    from motionseg_trt.stages import chosen, default_stage, model_sets, names

    assert model_sets() == ["embedded", "official"]
    assert [default_stage(k, "embedded") for k in ("tracker", "features", "labeller", "densifier")] == \
        ["flow", "none", "geometric", "appearance"]
    assert [default_stage(k, "official") for k in ("tracker", "features", "labeller", "densifier")] == \
        ["bootstapir", "official", "official", "sam2"]
    assert set(names("labeller")) >= {"geometric", "learned", "official"}
    # the official classifier reads depth and DINO: the features of the official set
    picks = chosen(RunConfig(models="official", motion_model="official", tracker="flow", densifier="embedded"))
    assert picks["features"].name == "official" and list(picks) == ["tracker", "features", "labeller", "densifier"]
    # the embedded set promises no download: its official stages are a usage error (issue 19)
    for config in (RunConfig(motion_model="official"), RunConfig(features="official")):
        with pytest.raises(OptionError, match="belongs to the official model set: add --models official"):
            chosen(config)
    assert chosen(RunConfig(models="official", tracker="flow", motion_model="geometric"))["features"].name == "official"
    assert chosen(RunConfig(models="official", motion_model="geometric", features="none"))["features"].name == "none"
    with pytest.raises(OptionError, match="--features none: the labeller needs --features official"):
        chosen(RunConfig(models="official", motion_model="official", features="none"))
    with pytest.raises(OptionError, match="need different features.*--densifier embedded"):
        chosen(RunConfig(models="official", densifier="appearance"))  # it reads the appearance cues


def test_the_next_window_is_tracked_while_one_is_densified_and_each_stage_resets_in_its_turn(tmp_path):
    """overlap_stages: a window's labels and masks come from a worker thread while the main thread tracks
    the next window; each stage still sees its windows in order, a cut resets the tracker before the new
    scene's first window and the labeller/densifier after the old scene's last, and the masks are the
    same as one window at a time."""
    import threading
    import time

    from _footage import SceneSpec, encode, render

    a, _ = render(SceneSpec(seed=1, velocity=(-60.0, 40.0)), 1.5, 24)
    b, _ = render(SceneSpec(seed=2, tint=(1.0, 0.7, 0.5), start=(120.0, 200.0), velocity=(70.0, -50.0)), 1.5, 24)
    path = encode(str(tmp_path / "joined.mp4"), np.concatenate([a, b]), 24)
    events = []

    class Tracker(_FakeTracker):
        def track(self, window):
            events.append(("track", window.index))
            return super().track(window)

        def reset(self):
            events.append(("reset", "tracker"))

    class Labeller(_FakeLabeller):
        def label(self, window, tracks, features):
            events.append(("label", window.index, threading.current_thread().name))
            return super().label(window, tracks, features)

        def reset(self):
            events.append(("reset", "labeller"))

    class Densifier(_BrightDensifier):
        def densify(self, window, tracks, labels, features=None):
            time.sleep(0.05)  # long enough for the main thread to get to the next window
            events.append(("densify", window.index))
            return super().densify(window, tracks, labels, features)

        def reset(self):
            events.append(("reset", "densifier"))

    masks, orders = {}, {}
    for overlap in (True, False):
        events.clear()
        out = tmp_path / f"o{overlap}"
        run_pipeline(RunConfig(input=path, out=str(out), window=12, stride=6, write_overlay=False, progress=False,
                               extra={**NO_FILTER, "overlap_stages": overlap}),
                     Stages(Tracker(), NoFeatures(), Labeller(), Densifier()))
        masks[overlap] = _masks(str(out), 72)
        orders[overlap] = list(events)
    for overlap, seen in orders.items():
        for kind in ("track", "label", "densify"):
            indices = [e[1] for e in seen if e[0] == kind]
            assert indices == sorted(indices) and len(indices) == len(set(indices)) >= 10
        assert [e[1] for e in seen if e[0] == "reset"] == ["tracker", "labeller", "densifier"]  # one cut
        first_new = next(e[1] for e in seen[seen.index(("reset", "tracker")) + 1:] if e[0] == "track")
        assert seen.index(("densify", first_new - 1)) < seen.index(("reset", "labeller")) \
            < seen.index(next(e for e in seen if e[0] == "label" and e[1] == first_new))
    overlapped = orders[True]
    assert all(e[2].startswith("masks") for e in overlapped if e[0] == "label")
    assert any(overlapped.index(("track", k + 1)) < overlapped.index(("densify", k))
               for k in range(5))  # tracking went on while a window was densified
    assert all(e[2] == threading.current_thread().name for e in orders[False] if e[0] == "label")
    np.testing.assert_array_equal(masks[True], masks[False])
