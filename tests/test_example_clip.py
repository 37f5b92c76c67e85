"""The example clip that ships in examples/: made by tools/make_example_clip.py, and the engine's
default embedded stages segment its moving ball and leave the static look-alike alone."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from _video import iou
from PIL import Image

from motionseg_trt.cli.main import main
from motionseg_trt.io.decode import open_frames

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "examples" / "pan_ball_320x240.mp4"


@pytest.fixture(scope="module")
def scene():
    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "tools" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render()


def test_shipped_clip_is_the_rendered_scene(scene):
    frames, _, _ = scene
    assert CLIP.stat().st_size < 300_000
    with open_frames(str(CLIP)) as reader:
        decoded = np.stack(list(reader))
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(np.int16) - frames.astype(np.int16)).mean() < 6


def test_example_run_segments_the_moving_ball(tmp_path, scene, capsys):
    _, moving, static = scene
    out = tmp_path / "out"
    code = main(["run", str(CLIP), "--out", str(out), "--no-progress", "--no-overlay",
                 "--motion-model", "geometric"])
    assert code == 0, capsys.readouterr().err
    masks = np.stack([np.asarray(Image.open(out / "masks" / f"{i:05d}.png")) for i in range(len(moving))])
    assert len(os.listdir(out / "masks")) == len(moving)
    assert np.mean([iou(m > 0, g) for m, g in zip(masks, moving)]) > 0.6
    assert (masks > 0)[static].mean() < 0.05
