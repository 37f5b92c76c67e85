"""The benchmark helpers: trtexec-style statistics, in-memory windows that cover every frame once,
and the generated clip. (No timings are asserted: numbers belong to benchmarks/.)"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_stages import parse_overrides, windows_of  # noqa: E402
from common import format_table, latency_stats, synthetic_clip  # noqa: E402


def test_latency_stats_percentiles():
    s = latency_stats(range(1, 101))
    assert s["n"] == 100 and s["mean"] == pytest.approx(50.5)
    assert s["p50"] == pytest.approx(50.5) and s["p90"] == pytest.approx(90.1) and s["p99"] == pytest.approx(99.01)
    assert latency_stats([]) == {"n": 0}


@pytest.mark.parametrize("frames,window,stride", [(24, 8, 4), (25, 8, 4), (7, 8, 4), (30, 12, 12)])
def test_windows_emit_every_frame_once(frames, window, stride):
    clip = np.zeros((frames, 4, 4, 3), np.uint8)
    wins = list(windows_of(clip, window, stride))
    emitted = [f for w in wins for f in w.emit_range]
    assert emitted == list(range(frames))
    assert wins[-1].is_last and not any(w.is_last for w in wins[:-1])
    assert all(w.length == min(window, frames) for w in wins)


def test_synthetic_clip_and_table():
    clip = synthetic_clip(5, 48, 64)
    assert clip.shape == (5, 48, 64, 3) and clip.dtype == np.uint8 and clip.std() > 10
    assert not np.array_equal(clip[0], clip[4])  # the camera moves
    text = format_table([{"a": "x", "b": 1.234}], [("a", "name", ""), ("b", "value", "{:.1f}")])
    assert "1.2" in text and text.splitlines()[0].startswith("name")
    assert parse_overrides("backend=torch,fp16=true,window=8") == {"backend": "torch", "fp16": True, "window": 8}
