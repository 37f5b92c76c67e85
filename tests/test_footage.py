"""Footage as people store it (issue 18), end to end through the real embedded stages: the same scene
stored at 240p, at 1080p, as a phone stores a portrait clip (rotation metadata, 60 fps, audio) and at
24 / 60 fps gives the same objects; a cut restarts the ids; a short blip is no object; nothing found is
said out loud."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from _footage import Blip, SceneSpec, encode, render
from PIL import Image

from motionseg_trt.config import RunConfig
from motionseg_trt.pipeline import run_pipeline

# Slow own motion (30 px/s at 640x360): the 60 fps portrait clip of this scene gave no object before
# thresholds and gaps were stated in sqrt(area) and seconds.
SLOW = SceneSpec(velocity=(-30.0, 20.0))
NO_FILTER = {"obj_min_score": 0, "obj_min_area": 0, "obj_min_duration": 0}


def _run(path, out, **kw):
    config = RunConfig(input=str(path), out=str(out), progress=False, write_overlay=False, **kw)
    summary = run_pipeline(config)
    files = sorted(os.listdir(os.path.join(out, "masks")))
    masks = np.stack([np.asarray(Image.open(os.path.join(out, "masks", f))) for f in files])
    with open(os.path.join(out, "objects.json")) as f:
        objects = json.load(f)["objects"]
    return summary, masks, objects


def _iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _mean_iou(masks, gt):
    return float(np.mean([_iou(m > 0, g) for m, g in zip(masks, gt)]))


def _small(masks, size=(160, 90)):
    return np.stack([cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The scene stored at 640x360, 24 fps: the run every other storage is compared with."""
    tmp = tmp_path_factory.mktemp("ref")
    frames, gt = render(SLOW, 1.5, 24)
    summary, masks, objects = _run(encode(str(tmp / "ref.mp4"), frames, 24), tmp / "out")
    assert summary["objects"] == 1 and len(masks) == 36
    assert _mean_iou(masks, gt) > 0.75
    return masks


# in the full suite only (slow, 4-6 s each); every day: this file's sampling, API and warning cases,
# test_object_filter.py / test_pipeline.py for cuts, test_decode.py for the display-matrix rotations
@pytest.mark.parametrize("size,rotation", [pytest.param((426, 240), 0, marks=pytest.mark.slow),
                                           pytest.param((1920, 1080), 0, marks=pytest.mark.slow),
                                           pytest.param((1920, 1080), 90, marks=pytest.mark.slow)],
                         ids=["240p", "1080p", "portrait-1080p"])
def test_resolution_and_orientation_give_the_same_objects(tmp_path, reference, size, rotation):
    frames, gt = render(SLOW, 1.5, 24, size)
    # with 90 degrees in the display matrix the stored landscape frames show as a portrait picture
    summary, masks, objects = _run(encode(str(tmp_path / "c.mp4"), frames, 24, rotation=rotation), tmp_path / "o")
    if rotation:
        assert masks.shape[1:] == (size[0], size[1])  # written upright, at the input's size
        masks = np.rot90(masks, k=-1, axes=(1, 2))
    else:
        assert masks.shape[1:] == (size[1], size[0])
    assert summary["objects"] == 1 and [o["id"] for o in objects] == [1]
    assert _mean_iou(masks, gt) > 0.75
    assert _mean_iou(_small(masks), _small(reference) > 0) > 0.8


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_24_and_60_fps_give_the_same_objects(tmp_path, reference):
    frames, gt = render(SLOW, 1.5, 60)
    summary, masks, objects = _run(encode(str(tmp_path / "c60.mp4"), frames, 60), tmp_path / "o")
    assert len(masks) == 90 and summary["objects"] == 1  # a mask for every input frame
    assert summary["frames_processed"] == 36  # sampled to 24 fps
    at_24 = masks[[int(round(j * 60 / 24)) for j in range(36)]]  # the 60 fps frames at the 24 fps times
    assert _mean_iou(at_24, reference > 0) > 0.8
    assert _mean_iou(masks, gt) > 0.7


@pytest.mark.slow  # 90 frames at 1080p (~10 s); portrait, 60 fps and audio each have a daily test
def test_a_phone_clip(tmp_path, reference):
    """Portrait (90 degree rotation metadata), 1080p, 60 fps, with an AAC track."""
    frames, gt = render(SLOW, 1.5, 60, (1920, 1080))
    path = encode(str(tmp_path / "phone.mp4"), frames, 60, rotation=90, audio=True)
    summary, masks, objects = _run(path, tmp_path / "o")
    assert masks.shape == (90, 1920, 1080) and summary["objects"] == 1
    masks = np.rot90(masks, k=-1, axes=(1, 2))
    assert _mean_iou(masks, gt) > 0.7
    assert _mean_iou(_small(masks[[int(round(j * 2.5)) for j in range(36)]]), _small(reference) > 0) > 0.8


def test_every_frame_when_asked(tmp_path):
    frames, _ = render(SLOW, 0.5, 60, (320, 180))
    summary, masks, _ = _run(encode(str(tmp_path / "c.mp4"), frames, 60), tmp_path / "o", vid_stride=1)
    assert summary["frames_processed"] == 30 and len(masks) == 30


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_a_cut_restarts_the_ids(tmp_path):
    a, gt_a = render(SceneSpec(seed=1, velocity=(-60.0, 40.0)), 1.5, 24)
    b, gt_b = render(SceneSpec(seed=2, tint=(1.0, 0.7, 0.5), start=(120.0, 200.0), velocity=(70.0, -50.0)), 1.5, 24)
    path = encode(str(tmp_path / "joined.mp4"), np.concatenate([a, b]), 24)
    summary, masks, objects = _run(path, tmp_path / "o")
    with open(tmp_path / "o" / "run.json") as f:
        run = json.load(f)
    assert run["timeline"]["cuts"] == [36] and summary["scenes"] == 2
    assert [o["id"] for o in objects] == [1, 2]  # contiguous, in order of appearance
    assert objects[0]["last_frame"] < 36 <= objects[1]["first_frame"]  # no id spans the cut
    assert _mean_iou(masks[:36], gt_a) > 0.7 and _mean_iou(masks[36:], gt_b) > 0.7


@pytest.mark.slow  # two end-to-end runs (~6 s); test_object_filter.py checks the evidence every day
def test_a_short_blip_is_not_an_object(tmp_path):
    spec = SceneSpec(seed=3, velocity=(-60.0, 40.0), blip=Blip(start=0.5, duration=0.2))
    frames, gt = render(spec, 1.5, 24)
    path = encode(str(tmp_path / "blip.mp4"), frames, 24)
    # without the object filter the blip is an object: the test would see it
    unfiltered, _, _ = _run(path, tmp_path / "raw", extra=dict(NO_FILTER))
    assert unfiltered["objects"] == 2
    summary, masks, objects = _run(path, tmp_path / "o")
    assert summary["objects"] == 1 and [o["id"] for o in objects] == [1]
    assert _mean_iou(masks, gt) > 0.7


@pytest.mark.slow  # the daily lane stays under two minutes; CI runs it
def test_objects_json_has_a_score_and_a_box_per_frame(tmp_path):
    frames, gt = render(SceneSpec(seed=4, velocity=(-60.0, 40.0)), 1.0, 24)
    _, masks, objects = _run(encode(str(tmp_path / "c.mp4"), frames, 24), tmp_path / "o")
    (obj,) = objects
    assert 0.5 <= obj["score"] <= 1.0
    for entry in obj["frames"]:
        ys, xs = np.nonzero(masks[entry["frame"]] == 1)
        assert entry["box"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert 0.0 <= entry["score"] <= 1.0


def test_segment_gives_every_input_frame_as_written(tmp_path):
    """The Python API on a 60 fps clip sampled to 24 fps: one result per input frame, the PNGs' labels,
    objects.json's ids, boxes and scores (one score, the object filter's, in both)."""
    from motionseg_trt import segment

    frames, _ = render(SceneSpec(seed=4, velocity=(-60.0, 40.0)), 1.0, 60, (320, 180))
    path = encode(str(tmp_path / "c60.mp4"), frames, 60)
    run = segment(path, out=tmp_path / "o")
    results = list(run)
    assert [r.index for r in results] == list(range(60)) and run.summary["frames_processed"] == 24
    written = sorted(os.listdir(tmp_path / "o" / "masks"))
    assert all(np.array_equal(r.labels, np.asarray(Image.open(tmp_path / "o" / "masks" / f)))
               for r, f in zip(results, written))
    with open(tmp_path / "o" / "objects.json") as f:
        objects = json.load(f)["objects"]
    entries = {(o["id"], e["frame"]): e for o in objects for e in o["frames"]}
    seen = {(o.id, r.index): o for r in results for o in r.objects}
    assert set(seen) == set(entries) and run.summary["objects"] == len(objects) >= 1
    for key, o in seen.items():
        assert list(o.box) == entries[key]["box"] and o.area == entries[key]["area"]
        assert o.score == entries[key].get("score")


# ------------------------------------------------------------------ nothing silent
def _cli(capsys, *argv):
    from motionseg_trt.cli.main import main

    code = main(["run", *map(str, argv), "--no-progress", "--no-overlay"])
    return code, capsys.readouterr().err


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_motion_without_an_object_is_said(tmp_path, capsys):
    # the only thing that moves on its own is a short blip: it does not qualify as an object
    spec = SceneSpec(seed=5, start=(2000.0, 2000.0), blip=Blip(start=0.4, duration=0.25))
    frames, _ = render(spec, 1.5, 24)
    code, err = _cli(capsys, encode(str(tmp_path / "c.mp4"), frames, 24), "--out", tmp_path / "o")
    assert code == 0
    warning = [line for line in err.splitlines() if "warning: no moving object written" in line]
    assert len(warning) == 1 and "obj_min_duration" in warning[0]
    with open(tmp_path / "o" / "run.json") as f:
        run = json.load(f)
    assert run["objects"] == 0 and any("no moving object written" in w for w in run["warnings"])


def test_a_failing_camera_model_is_said(tmp_path, capsys):
    # every frame new noise: no track survives a frame, no camera model can be fitted
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (24, 180, 320, 3), dtype=np.uint8)
    code, err = _cli(capsys, encode(str(tmp_path / "noise.mp4"), frames, 24), "--out", tmp_path / "o")
    assert code == 0 and "warning: the camera model failed on" in err
    with open(tmp_path / "o" / "run.json") as f:
        assert any("camera model failed" in w for w in json.load(f)["warnings"])


def test_a_still_scene_says_nothing(tmp_path, capsys):
    frames, _ = render(SceneSpec(seed=6, pan=(0.0, 0.0), start=(2000.0, 2000.0)), 1.0, 24, (320, 180))
    code, err = _cli(capsys, encode(str(tmp_path / "still.mp4"), frames, 24), "--out", tmp_path / "o")
    assert code == 0 and "warning" not in err


@pytest.mark.parametrize("argv,needle", [(["--fps", "0"], "positive number"), (["--vid-stride", "0"], "positive integer"),
                                         (["--fps", "24", "--vid-stride", "2"], "not allowed with")])
def test_bad_sampling_flags(tmp_path, capsys, argv, needle):
    frames, _ = render(SceneSpec(), 0.2, 24, (64, 36))
    with pytest.raises(SystemExit) as exc:
        _cli(capsys, encode(str(tmp_path / "c.mp4"), frames, 24), "--out", tmp_path / "o", *argv)
    assert exc.value.code == 2 and needle in capsys.readouterr().err
