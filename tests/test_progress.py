"""Progress people can see: with stderr piped, a heartbeat line at the set interval (frames, fps, ETA);
a final line with each stage's speed; ``--quiet`` prints nothing; the lines' wording."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from _video import make_pan_frames, write_video

from motionseg_trt.batch.report import BatchReport
from motionseg_trt.progress import Heartbeat, stage_fps, stage_speeds

HEARTBEAT = re.compile(r"^motionseg-trt: clip\.mp4: (\d+)/(\d+) frames \(\d+%\), [\d.]+ fps(, ETA \d+:\d\d)?$")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("progress") / "clip.mp4")
    write_video(path, make_pan_frames(96, (160, 120), seed=2).frames)
    return path


def _piped_run(*argv):
    """Run the CLI with stderr a pipe; returns (seconds after start of each stderr line, line), stdout, code."""
    proc = subprocess.Popen([sys.executable, "-m", "motionseg_trt", "run", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start, lines = time.monotonic(), []
    for line in proc.stderr:
        lines.append((time.monotonic() - start, line.rstrip("\n")))
    out = proc.stdout.read()
    return lines, out, proc.wait(timeout=120)


@pytest.mark.slow  # the daily lane stays under two minutes; CI runs it
def test_piped_stderr_gets_a_heartbeat_and_the_final_line_each_stage_speed(clip, tmp_path):
    # a window of 8 frames every 4 and a single thread: 23 windows, two seconds or more on any machine
    lines, out, code = _piped_run(clip, "--out", tmp_path / "o", "--window", "8", "--stride", "4",
                                  "--threads", "1", "--option", "progress_interval=0.2")
    assert code == 0
    beats = [(t, line) for t, line in lines if "frames (" in line]
    assert len(beats) >= 3, lines
    assert all(HEARTBEAT.match(line) for _, line in beats), beats
    done = [int(HEARTBEAT.match(line).group(1)) for _, line in beats]
    assert done == sorted(done) and all(int(HEARTBEAT.match(line).group(2)) == 96 for _, line in beats)
    gaps = [b[0] - a[0] for a, b in zip(beats, beats[1:])]
    assert all(0.1 < g < 1.0 for g in gaps), gaps  # about every 0.2 s, never silent for long
    final = out.strip().splitlines()[-1]
    assert re.search(r"96 frames, \d+ moving object\(s\), [\d.]+ fps -> .*\(decode \d+ fps, tracks \d+ fps, "
                     r"features (\d+ fps|no-op), motion \d+ fps, masks \d+ fps, write \d+ fps\)$", final), final


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_quiet_prints_nothing(clip, tmp_path):
    lines, out, code = _piped_run(clip, "--out", tmp_path / "o", "--no-overlay", "--quiet",
                                  "--option", "progress_interval=0.1")
    assert code == 0 and lines == [] and out == ""
    assert (tmp_path / "o" / "run.json").exists()


def test_heartbeat_words():
    beat = Heartbeat("clip.mp4", 240, interval=3600)
    try:
        t0 = beat.started
        assert "preparing" in beat.line(now=t0 + 3)
        beat.update(96)
        assert beat.line(now=t0 + 4) == "motionseg-trt: clip.mp4: 96/240 frames (40%), 24.0 fps, ETA 0:06"
        beat.total = None
        assert beat.line(now=t0 + 4) == "motionseg-trt: clip.mp4: 96 frames, 24.0 fps, 0:04 elapsed"
    finally:
        beat.close()


def test_stage_speeds_say_no_op():
    per_stage = stage_fps(100, {"decode": 0.1, "tracks": 2.0, "features": 1e-5, "motion": 0.5, "masks": 0.25,
                                "write": 0.4}, windows=6)
    assert per_stage == {"decode": 1000.0, "tracks": 50.0, "features": None, "motion": 200.0, "masks": 400.0,
                         "write": 250.0}
    assert stage_speeds(per_stage) == ("decode 1000 fps, tracks 50 fps, features no-op, motion 200 fps, "
                                       "masks 400 fps, write 250 fps")


def test_batch_heartbeat_words(capsys):
    report = BatchReport(3, quiet=False, interval=None)
    assert report.heartbeat_line().startswith("motionseg-trt: 0 of 3 videos finished (0 failed), 0:0")
    report.close()
