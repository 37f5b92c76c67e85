"""The Python API, ``segment()``: per-frame labels identical to the CLI's mask PNGs for every kind of
source, streaming (results before a live source ends), objects (box, area, score), the same files
with ``out=``, typed errors worded in arguments, and the README's example run as written."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import av
import numpy as np
import pytest
from _video import make_pan_frames, write_frame_folder, write_video
from PIL import Image

from motionseg_trt import segment
from motionseg_trt.cli.main import main
from motionseg_trt.errors import InputError, MotionSegError, OptionError, OutputExistsError

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A generated 40-frame clip (three windows), its decoded frames, and the CLI's masks of it."""
    folder = tmp_path_factory.mktemp("api")
    path = str(folder / "clip.mp4")
    write_video(path, make_pan_frames(40, (160, 120), seed=3).frames)
    with av.open(path) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    out = folder / "cli"
    assert main(["run", path, "--out", str(out), "--no-progress"]) == 0
    pngs = [np.array(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))]
    return path, decoded, pngs, out


def _labels(results):
    return [r.labels for r in results]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_labels_are_the_cli_masks(clip):
    path, _, pngs, _ = clip
    results = list(segment(path))
    assert [r.index for r in results] == list(range(40))
    assert all(r.labels.dtype == np.uint8 and r.labels.shape == (120, 160) for r in results)
    assert _same(_labels(results), pngs)
    assert any(r.objects for r in results)  # the moving square is found


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_array_iterable_and_frame_folder_give_the_same_labels(clip, tmp_path):
    path, decoded, pngs, _ = clip
    assert _same(_labels(segment(decoded)), pngs)
    assert _same(_labels(segment(iter(list(decoded)))), pngs)
    folder = write_frame_folder(str(tmp_path / "frames"), decoded)
    assert _same(_labels(segment(folder)), pngs)


def test_a_live_source_streams(clip):
    """Results come while the source is still being read: one window (16 frames; one stride more with
    overlapped stages) plus decoding ahead
    and the frames the cut detector looks ahead, not the whole clip."""
    from motionseg_trt.io.cuts import LOOKAHEAD

    _, decoded, _, _ = clip
    pulled = []

    def camera():
        for frame in decoded:
            pulled.append(1)
            yield frame

    for overlap, lag in ((False, 0), (True, 8)):  # overlapped stages: the next window is tracked first
        pulled.clear()
        run = segment(camera(), input_fps=30.0, window=16, stride=8, prefetch_frames=2, overlap_stages=overlap)
        assert run.info.fps == 30.0 and run.info.num_frames is None
        first = next(iter(run))
        assert first.index == 0 and len(pulled) <= 16 + lag + 2 + 2 + LOOKAHEAD
        run.close()


def test_objects_box_area_and_score(clip):
    path, _, _, _ = clip
    seen = 0
    for r in segment(path):
        assert sorted(o.id for o in r.objects) == sorted(set(np.unique(r.labels).tolist()) - {0})
        for o in r.objects:
            ys, xs = np.nonzero(r.labels == o.id)
            assert o.box == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            assert o.area == len(xs)
            assert o.score is None or 0.0 <= o.score <= 1.0
            seen += o.score is not None
    assert seen > 0  # tracks fall inside the moving square


def test_out_writes_the_cli_files(clip, tmp_path):
    path, _, _, cli_out = clip
    run = segment(path, out=tmp_path / "o")
    results = list(run)
    assert run.summary["status"] == "complete" and run.summary["frames"] == 40
    written = [np.array(Image.open(p)) for p in sorted((tmp_path / "o" / "masks").glob("*.png"))]
    assert _same(written, _labels(results))
    ours = json.loads((tmp_path / "o" / "objects.json").read_text())
    theirs = json.loads((cli_out / "objects.json").read_text())
    assert ours["objects"] == theirs["objects"]
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["status"] == "complete" and set(record["fps_per_stage"]) >= {"tracks", "motion", "masks"}


def test_leaving_the_loop_early_leaves_complete_files_only(clip, tmp_path):
    path, _, _, _ = clip
    for r in segment(path, out=tmp_path / "o"):
        if r.index == 20:
            break
    names = sorted(os.listdir(tmp_path / "o"))
    assert "run.json" not in names and "objects.json" not in names
    assert all(re.fullmatch(r"\d{5}\.png", n) for n in os.listdir(tmp_path / "o" / "masks"))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(geo_treshold=3), OptionError, "did you mean geo_threshold"),
    (dict(motion_modle="learned"), OptionError, "did you mean motion_model"),
    (dict(geo_outlier_k=-1), OptionError, "geo_outlier_k=-1"),
    (dict(window=8, stride=16), OptionError, "stride (16) must not exceed window (8)"),
    (dict(window="32"), OptionError, "window must be a positive integer"),
    (dict(motion_model="bogus"), OptionError, "unknown labeller 'bogus'"),
    (dict(device="cuda"), MotionSegError, "device='cuda'"),
])
def test_errors_are_typed_and_speak_of_arguments(clip, kwargs, error, words):
    path, _, _, _ = clip
    with pytest.raises(error) as info:
        segment(path, **kwargs)
    assert words in str(info.value) and "--" not in str(info.value)


def test_output_exists_says_overwrite_true(clip, tmp_path):
    path, _, _, _ = clip
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x.txt").write_text("mine")
    with pytest.raises(OutputExistsError) as info:
        segment(path, out=tmp_path / "o")
    assert "overwrite=True" in str(info.value) and "--" not in str(info.value)


@pytest.mark.parametrize("source, words", [
    ("/no/such/clip.mp4", "input not found"),
    (np.zeros((4, 32, 32), np.uint8), "RGB uint8 [T, H, W, 3]"),
    (np.zeros((4, 32, 32, 3), np.float32), "RGB uint8 [T, H, W, 3]"),
    (iter([]), "zero frames"),
    (42, "a path, a NumPy array"),
])
def test_bad_sources(source, words):
    with pytest.raises(InputError) as info:
        segment(source)
    assert words in str(info.value)


def test_a_live_source_that_changes_size_ends_with_an_input_error(clip):
    _, decoded, pngs, _ = clip
    frames = list(decoded[:20]) + [np.zeros((60, 80, 3), np.uint8)]
    results = []
    with pytest.raises(InputError, match="frame 20 is 80x60"):
        for r in segment(iter(frames)):
            results.append(r)
    assert len(results) == 20


def test_the_readme_example_runs(clip, tmp_path, monkeypatch, capsys):
    """The README's Python block, as written, on a generated clip named as in the example."""
    text = README.read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    path, _, pngs, _ = clip
    os.symlink(path, tmp_path / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 41 and lines[0].startswith("0 (120, 160)")
    assert lines[-1].split()[1] == "1"  # the summary: one moving object


@pytest.mark.slow  # the daily lane stays under two minutes; CI runs it
def test_run_pipeline_takes_an_array_and_records_it(clip, tmp_path):
    """The issue's case: ``run_pipeline`` given a NumPy array (was "The truth value of an array...")."""
    from motionseg_trt.config import RunConfig
    from motionseg_trt.pipeline import run_pipeline

    _, decoded, _, _ = clip
    summary = run_pipeline(RunConfig(input=decoded, out=str(tmp_path / "o"), input_fps=12.5))
    assert summary["status"] == "complete" and summary["frames"] == 40
    written = [np.array(Image.open(p)) for p in sorted((tmp_path / "o" / "masks").glob("*.png"))]
    # the stages measure time in seconds: at 12.5 fps (not the file's 24) the masks are segment()'s at 12.5
    assert _same(written, _labels(segment(decoded, input_fps=12.5)))
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["config"]["input"] == "<array [40, 120, 160, 3] uint8>" and record["input"]["fps"] == 12.5
    with av.open(str(tmp_path / "o" / "overlay.mp4")) as container:  # drawn on the frames the reader kept
        assert sum(1 for _ in container.decode(video=0)) == 40
