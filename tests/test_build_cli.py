"""`motionseg-trt build` on a machine without TensorRT: one line saying so, then ONNX Runtime
sessions are prepared from freshly exported graphs. Shrunk random-weight networks keep it small."""
import importlib.util

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

from motionseg_trt.cli.main import main as cli_main  # noqa: E402

pytestmark = pytest.mark.slow  # exports networks through `build`

TINY = ["--option", "dino_variant=vits14", "--option", "dino_layers=1", "--option", "dino_layer=0",
        "--option", "depth_layers=4", "--option", "depth_side=28"]


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_build_without_tensorrt_explains_and_prepares_onnxruntime(tmp_path, capsys):
    cache = tmp_path / "engines"
    argv = ["build", "--backend", "trt", "--random-weights", "--height", "28", "--width", "42",
            "--engine-cache", str(cache), "--only", "dino", "--only", "depth", "--no-progress"] + TINY
    assert cli_main(argv) == 0
    out = capsys.readouterr()
    notes = [line for line in out.err.splitlines() if "TensorRT is not installed" in line]
    assert len(notes) == 1 and "preparing ONNX Runtime sessions instead" in notes[0]
    assert "Traceback" not in out.err
    graphs = sorted(p.name for p in (cache / "onnx").glob("*.onnx"))
    assert len(graphs) == 2 and graphs[0].startswith("depth_small") and graphs[1].startswith("dino_vits14")
    assert "backend onnxruntime" in out.out
    # a second build reuses the exported graphs
    mtimes = {p: p.stat().st_mtime_ns for p in (cache / "onnx").glob("*.onnx")}
    assert cli_main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in (cache / "onnx").glob("*.onnx")} == mtimes


def test_build_without_weights_names_the_download_command(tmp_path, capsys):
    argv = ["build", "--backend", "onnxruntime", "--weights-dir", str(tmp_path / "none"),
            "--engine-cache", str(tmp_path / "e"), "--only", "dino", "--no-progress"]
    assert cli_main(argv) == 5
    err = capsys.readouterr().err
    assert "motionseg-trt download --only dinov2_vitb14" in err and "Traceback" not in err


def test_unknown_network_is_a_usage_error(tmp_path, capsys):
    assert cli_main(["build", "--random-weights", "--only", "nope", "--engine-cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown network" in err[0]
