"""Shared helpers for the classifier tests: the golden fixture folder and one ONNX export of the
fixture's weights per test process (exporting takes tens of seconds on a small machine)."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "segany_classifier"


def require_fixture() -> Path:
    if not (FIXTURE / "state_dict.safetensors").exists():
        pytest.skip(f"classifier fixture not found at {FIXTURE} (clone shared/ beside the repo)")
    return FIXTURE


def load(name: str) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(require_fixture() / name))


@functools.lru_cache(maxsize=None)
def fixture_model():
    from motionseg_trt.motion.classifier.checkpoint import load_classifier

    return load_classifier(str(require_fixture() / "state_dict.safetensors"))


@functools.lru_cache(maxsize=None)
def fixture_engine_cache() -> str:
    """An artifact folder (``RunConfig.engine_cache``) holding the fixture model exported to ONNX
    (float32, dynamic B/N/T) under the name a parity run gives it, made once per process."""
    from motionseg_trt.export.classifier import export_classifier
    from motionseg_trt.runtime.network import weights_tag

    folder = tempfile.mkdtemp(prefix="classifier-onnx-")
    atexit.register(shutil.rmtree, folder, True)
    weights = str(require_fixture() / "state_dict.safetensors")
    path = Path(folder) / "onnx" / f"parity_classifier_{weights_tag(weights)}.onnx"
    path.parent.mkdir(parents=True)
    export_classifier(fixture_model(), str(path))
    return folder


def exported_fixture_model() -> str:
    """Path of the fixture model's ONNX export."""
    return str(next((Path(fixture_engine_cache()) / "onnx").glob("parity_classifier_*.onnx")))
