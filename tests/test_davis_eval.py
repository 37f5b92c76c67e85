"""The accuracy benchmark end to end on a tiny generated DAVIS-like folder (never the real data)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from _scenes import Square, make_scene
from _video import write_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import davis_eval  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("davis_like")
    scene = make_scene(num_frames=12, height=96, width=128, pan=(1.5, 0.5),
                       squares=(Square(36, 30, 30, (1.2, 1.0), seed=5), Square(90, 8, 22, seed=6)))
    seq = root / "pan-square"
    (seq / "masks").mkdir(parents=True)
    write_video(str(seq / "clip.mp4"), scene.frames, crf=10)
    for t, labels in enumerate(scene.labels):
        cv2.imwrite(str(seq / "masks" / f"{t:05d}.png"), (labels > 0).astype(np.uint8) * 255)
    return root


@pytest.mark.parametrize("mode", [["--direct"], [], ["--max-frames", "8"]])
def test_benchmark_scores_the_engine(dataset, tmp_path, capsys, mode):
    out = tmp_path / "result.json"
    rc = davis_eval.main([str(dataset), "--window", "8", "--stride", "4", "--json", str(out)] + mode)
    assert rc == 0
    result = json.loads(out.read_text())
    seq = result["sequences"][0]
    assert seq["seq"] == "pan-square"
    assert seq["frames"] == (8 if "--max-frames" in mode else 12)
    # the moving square is found: far above what an empty or full prediction would score
    assert seq["J"] > 0.6 and seq["F"] > 0.5
    assert result["mean"]["JF"] == pytest.approx((seq["J"] + seq["F"]) / 2)
    assert set(seq["stage_ms_per_frame"]) >= {"decode", "tracks", "motion", "masks"}
    printed = capsys.readouterr().out
    assert "pan-square" in printed and "J&F" in printed


def test_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    assert davis_eval.main([str(tmp_path / "nope")]) == 3
    assert "no data folder" in capsys.readouterr().err
