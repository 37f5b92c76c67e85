"""overlay.mp4: at the input's size (or --overlay-size), every input frame with the input's timing,
the input's audio kept (none, or data streams, are fine), each object's id drawn on it."""
from __future__ import annotations

import os

import av
import numpy as np
import pytest
from _footage import SceneSpec, encode, render

from motionseg_trt.config import RunConfig
from motionseg_trt.io.sinks.overlay import draw_ids, label_anchor, overlay_size, parse_overlay_size
from motionseg_trt.io.palette import DAVIS_PALETTE
from motionseg_trt.pipeline import run_pipeline

SCENE = SceneSpec(velocity=(-60.0, 40.0))


def _run(path, out, **kw):
    return run_pipeline(RunConfig(input=str(path), out=str(out), progress=False, **kw))


def _streams(path):
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video)]
    with av.open(str(path)) as c:
        audio = [(s.codec_context.name, sum(1 for _ in c.demux(s))) for s in c.streams.audio]
    with av.open(str(path)) as c:
        kinds = sorted(s.type for s in c.streams)
    return frames, audio, kinds


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """640x360 at 24 fps with an AAC track and a data stream."""
    frames, gt = render(SCENE, 1.0, 24)
    path = encode(str(tmp_path_factory.mktemp("ov") / "c.mp4"), frames, 24, audio=True, data=True)
    return path, frames, gt


def test_overlay_at_the_input_size_with_its_audio_and_timing(tmp_path, clip):
    path, frames, _ = clip
    _run(path, tmp_path / "o", max_side=320)  # the stages work at 320x180
    got, audio, kinds = _streams(tmp_path / "o" / "overlay.mp4")
    source, source_audio, source_kinds = _streams(path)
    assert source_kinds == ["audio", "data", "video"] and kinds == ["audio", "video"]  # data left out
    assert got[0][1].shape == (360, 640, 3) and len(got) == len(frames) == 24
    assert [p for p, _ in got] == [p for p, _ in source]  # the input's timestamps
    assert audio == source_audio  # every AAC packet copied
    # outside the masks the picture is the input's (compression aside)
    assert np.abs(got[5][1][:40].astype(int) - source[5][1][:40].astype(int)).mean() < 4


@pytest.mark.parametrize("size,expect", [("320", (320, 180)),
                                         pytest.param("200x100", (200, 100), marks=pytest.mark.slow)])
def test_overlay_size(tmp_path, clip, size, expect):
    _run(clip[0], tmp_path / "o", overlay_size=size)
    got, _, _ = _streams(tmp_path / "o" / "overlay.mp4")
    assert got[0][1].shape[:2] == expect[::-1]


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_overlay_of_a_portrait_phone_clip_is_upright(tmp_path):
    frames, _ = render(SCENE, 0.5, 30, (320, 180))
    path = encode(str(tmp_path / "p.mp4"), frames, 30, rotation=90)
    _run(path, tmp_path / "o")
    with av.open(str(tmp_path / "o" / "overlay.mp4")) as c:
        first = next(c.decode(video=0))
        assert (first.width, first.height, first.rotation) == (180, 320, 0)
        assert not c.streams.audio  # the input had none


@pytest.mark.slow  # the daily lane stays under two minutes; CI runs it
def test_overlay_draws_each_id(tmp_path, clip):
    from PIL import Image

    from motionseg_trt.io.sinks.overlay import colour_overlay

    path, frames, gt = clip
    _run(path, tmp_path / "o")
    got, _, _ = _streams(tmp_path / "o" / "overlay.mp4")
    source, _, _ = _streams(path)
    mask = np.asarray(Image.open(tmp_path / "o" / "masks" / "00012.png"))
    assert set(np.unique(mask)) == {0, 1}
    # the overlay is the colour blend everywhere on the object but where the id is drawn
    blend = colour_overlay(source[12][1], mask).astype(int)
    diff = np.abs(got[12][1].astype(int) - blend).sum(-1)
    x, y = label_anchor(mask == 1)
    near = np.zeros(mask.shape, bool)
    near[y - 8:y + 9, x - 6:x + 7] = True
    assert diff[near].mean() > 60  # the label box and its digit
    assert np.median(diff[(mask == 1) & ~near]) < 15


def test_draw_ids_puts_each_label_on_its_object():
    labels = np.zeros((90, 160), np.uint8)
    labels[10:40, 10:60] = 1
    labels[50:85, 90:150] = 12
    labels[0, 159] = 1  # a stray pixel far away: the label stays on the body
    image = draw_ids(np.zeros((180, 320, 3), np.uint8), labels)
    for obj in (1, 12):
        drawn = np.all(image == DAVIS_PALETTE[obj], axis=-1)
        ys, xs = np.nonzero(drawn)
        assert len(xs) > 50
        assert (labels[ys // 2, xs // 2] == obj).mean() > 0.9  # the box is on the object
    width = {obj: np.ptp(np.nonzero(np.all(image == DAVIS_PALETTE[obj], -1))[1]) for obj in (1, 12)}
    assert width[12] > width[1]  # two digits


def test_overlay_size_parsing():
    from motionseg_trt.contracts import VideoInfo

    info = VideoInfo("x", 1081, 1920, 540, 960, 30.0, 10)
    assert overlay_size(info) == (1080, 1920)  # even sizes for yuv420p
    assert overlay_size(info, "960") == (540, 960)
    assert parse_overlay_size("640x360") == (640, 360)
    for bad in ("0", "10x", "abc", "99999"):
        with pytest.raises(ValueError):
            parse_overlay_size(bad)


def test_bad_overlay_size_is_a_usage_error(tmp_path, capsys, clip):
    from motionseg_trt.cli.main import main

    assert main(["run", clip[0], "--out", str(tmp_path / "o"), "--overlay-size", "12x", "--no-progress"]) == 2
    assert "--overlay-size 12x" in capsys.readouterr().err and not os.path.exists(tmp_path / "o")
