"""What the engine's wheel holds: the package, its shipped weights and model card, no training or
generator code (that lives in training/, a distribution of its own)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_holds_no_training_code(tmp_path):
    env = dict(os.environ, MOTIONSEG_BUILD_EXT="0")  # the C++ extensions do not change the file list
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("motionseg_trt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "motionseg_trt/weights/embedded_classifier_v2.safetensors" in names
    assert "motionseg_trt/weights/embedded_classifier_v2.md" in names
    assert "motionseg_trt/stages.py" in names and "motionseg_trt/export/tracker.py" in names
    # (motionseg_trt/cli/train.py is the command's one-line stand-in when the training package is absent)
    training = [n for n in names if any(part in n for part in ("synth", "trainer", "/train/", "/data.py", "parity",
                                                                 "formula_weights"))]
    assert training == [], training
    assert not any(n.startswith(("training/", "motionseg_training/", "tests/")) for n in names)
