"""benchmarks/bench_stages.py: latency per window and per frame, labelled; no-op stages shown as such;
``--input`` a real clip (a generated frame folder here). No timings are asserted, only their bookkeeping."""
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_stages  # noqa: E402
from bench_stages import NOOP_MS, ratio_table, stage_stats, table  # noqa: E402
from common import synthetic_clip  # noqa: E402


def test_stage_stats_per_window_and_per_frame():
    st = stage_stats([10.0, 20.0, 30.0], [16, 16, 8], cold_ms=99.0)
    assert st["per_window_ms"]["min"] == 10.0 and st["per_window_ms"]["max"] == 30.0
    assert st["per_window_ms"]["mean"] == pytest.approx(20.0)
    # per frame: each window's time over the frames it emits
    assert st["per_frame_ms"]["min"] == pytest.approx(10 / 16) and st["per_frame_ms"]["max"] == pytest.approx(30 / 8)
    assert st["per_frame_ms"]["p50"] == pytest.approx(20 / 16)
    assert st["fps"] == pytest.approx(40 / 0.060) and st["no_op"] is False and st["cold_ms"] == 99.0


def test_a_stage_that_does_nothing_is_a_no_op_not_a_million_fps():
    tiny = [NOOP_MS / 5, NOOP_MS / 3]
    st = stage_stats(tiny, [16, 16], cold_ms=0.01)
    assert st["no_op"] is True and st["fps"] is None
    assert stage_stats(tiny, [16, 16], 0.01, can_be_no_op=False)["fps"] > 1e5  # end to end is never a no-op
    assert stage_stats([NOOP_MS * 2], [16], 1.0)["no_op"] is False


def _result(label, ms):
    stages = {s: stage_stats([v, v], [16, 16], v) for s, v in zip(bench_stages.STAGES, ms)}
    return {"label": label, "config": {"models": "embedded", "backend": "onnxruntime", "fp16": False, "device": "cpu",
                                       "window": 32, "stride": 16},
            "windows": 3, "warmup_windows": 1, "frames_measured": 32, "stages": stages,
            "end_to_end": stage_stats([2 * sum(ms)], [32], 0.0, can_be_no_op=False),
            "memory": {"rss_peak_mb": 100.0, "process_maxrss_mb": 120.0, "cuda_peak_mb": None}}


def test_table_labels_both_latencies_and_shows_no_ops():
    text = table(_result("run", [160.0, 0.001, 32.0, 48.0]))
    assert "latency per frame, ms" in text and "latency per window, ms" in text and "on 32 frames" in text
    assert "min" in text and "p99" in text and "max" in text
    features = [line.split() for line in text.splitlines() if line.startswith("features")]
    assert features[0][:3] == ["features", "no-op", "-"]  # per-frame table: fps column says no-op
    assert set(features[1][1:-1]) == {"-"}  # per-window table
    tracks = [line.split() for line in text.splitlines() if line.startswith("tracks")]
    assert tracks[0][2] == "10.0" and tracks[1][2] == "160"  # per frame 160/16 ms; per window 160 ms
    ratios = ratio_table(_result("A", [160.0, 0.001, 32.0, 48.0]), _result("B", [80.0, 0.001, 32.0, 48.0]))
    rows = {line.split()[0]: line.split() for line in ratios.splitlines()[2:]}
    assert rows["tracks"][-1] == "2.00x" and rows["features"][1:] == ["no-op", "no-op", "-"]


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for i, frame in enumerate(synthetic_clip(18, 48, 64, seed=3)):
        Image.fromarray(frame).save(folder / f"frame{i}.png")
    return folder


def test_input_clip_end_to_end(frame_folder, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = bench_stages.main(["--models", "embedded", "--input", str(frame_folder), "--frames", "16",
                            "--window", "8", "--stride", "4", "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["clip"] == {"input": str(frame_folder), "frames": 16, "height": 48, "width": 64,
                           "input_height": 48, "input_width": 64}
    run = doc["results"][0]
    assert run["windows"] == 3 and run["warmup_windows"] == 1 and run["frames_measured"] == 8
    assert run["stages"]["features"]["no_op"] is False and run["stages"]["features"]["fps"] > 0  # appearance
    tracks = run["stages"]["tracks"]
    assert tracks["no_op"] is False and tracks["fps"] > 0
    assert tracks["per_frame_ms"]["mean"] == pytest.approx(tracks["per_window_ms"]["mean"] / 4)
    printed = capsys.readouterr().out
    assert "latency per frame" in printed


def test_input_errors(tmp_path, capsys):
    assert bench_stages.main(["--models", "embedded", "--input", str(tmp_path / "nope.mp4")]) == 3
    assert "input not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        bench_stages.main(["--input", str(tmp_path), "--height", "100"])
    assert exc.value.code == 2
