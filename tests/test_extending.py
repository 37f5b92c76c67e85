"""Extending the engine: a labeller, a runtime backend and an output format are each one module (see
tests/_extensions.py) and one row in a table; the command line, ``--list-options``, ``build``,
``--overwrite`` and ``run.json`` pick them up from there."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _video import make_pan_frames, write_video
from PIL import Image

from motionseg_trt.cli.main import main
from motionseg_trt.config import RunConfig


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("extending") / "clip.mp4")
    write_video(path, make_pan_frames(12, (128, 96), seed=4).frames)
    return path


def _run(capsys, *argv):
    code = main(["run", *map(str, argv), "--no-progress", "--no-overlay", "--window", "8", "--stride", "4"])
    return code, capsys.readouterr()


def _masks(out):
    return np.stack([np.asarray(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))])


# ---------------------------------------------------------------------------------- a labeller
@pytest.fixture
def speed_labeller(monkeypatch):
    from motionseg_trt import stages

    row = stages.Stage("labeller", "speed", "_extensions:SpeedLabeller", ("embedded",),
                       help="tracks faster than speed_px per frame (no camera model)")
    monkeypatch.setattr(stages, "STAGES", stages.STAGES + [row])


def test_a_labeller_is_one_module_and_one_row(speed_labeller, clip, tmp_path, capsys):
    code, cap = _run(capsys, clip, "--out", tmp_path / "a", "--motion-model", "speed", "--option", "speed_px=0.01")
    assert code == 0, cap.err
    assert json.loads((tmp_path / "a" / "run.json").read_text())["config"]["motion_model"] == "speed"
    assert _masks(tmp_path / "a").any()  # the camera pans: every track moves faster than 0.01 px/frame
    code, cap = _run(capsys, clip, "--out", tmp_path / "b", "--motion-model", "speed", "--option", "speed_px=1e6")
    assert code == 0 and not _masks(tmp_path / "b").any() and " 0 moving object" in cap.out
    # its setting is declared once, listed and checked like every other
    code, cap = _run(capsys, clip, "--out", tmp_path / "c", "--motion-model", "speed", "--option", "speed_px=-1")
    assert code == 2 and "speed_px=-1: must be above 0" in cap.err and not (tmp_path / "c").exists()
    with pytest.raises(SystemExit):
        main(["run", "--list-options"])
    assert any(line.startswith("speed_px ") and "[labeller speed]" in line
               for line in capsys.readouterr().out.splitlines())


# ---------------------------------------------------------------------------------- a backend
@pytest.fixture
def counting_backend(monkeypatch):
    from motionseg_trt.runtime import backends

    from _extensions import CountingRunner

    row = backends.BackendRow("counting-ort", "_extensions:CountingOnnxruntime", "ONNX Runtime, counting its calls")
    monkeypatch.setattr(backends, "BACKENDS", backends.BACKENDS + [row])
    CountingRunner.calls = 0
    return CountingRunner


def _tiny_network():
    import torch

    from motionseg_trt.runtime import Graph, NetworkSpec

    class Double(torch.nn.Module):
        def forward(self, x):
            return 2 * x + 1

    def export(path, fp16):
        torch.onnx.export(Double(), (torch.zeros(2, 3),), path, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
        return path

    return NetworkSpec("tiny", lambda: [Graph("tiny_double", "tiny", ["x"], ["y"], export, Double)])


def test_a_backend_is_one_folder_and_one_row(counting_backend, tmp_path):
    from motionseg_trt.runtime import make_runner

    config = RunConfig(backend="counting-ort", engine_cache=str(tmp_path))
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    with make_runner(config, _tiny_network()) as runner:
        np.testing.assert_allclose(runner.infer({"x": x})["y"], 2 * x + 1)
    assert counting_backend.calls == 1 and (tmp_path / "onnx" / "tiny_double.onnx").exists()
    with make_runner(RunConfig(backend="torch"), _tiny_network()) as runner:  # the same network, as the reference
        np.testing.assert_allclose(runner.infer({"x": x})["y"], 2 * x + 1)
    # the command line offers it, to run and to build
    from motionseg_trt.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", "x.mp4", "--backend", "counting-ort"]).backend == "counting-ort"
    assert parser.parse_args(["build", "--backend", "counting-ort"]).backend == "counting-ort"


@pytest.mark.slow
def test_a_run_on_the_new_backend_writes_the_masks_of_onnx_runtime(counting_backend, clip, tmp_path, capsys):
    """The learned labeller's network through the new backend: same masks as ONNX Runtime's own runner
    (one export, shared through the engine cache)."""
    masks = {}
    for backend in ("onnxruntime", "counting-ort"):
        code, cap = _run(capsys, clip, "--out", tmp_path / backend, "--motion-model", "learned", "--backend", backend)
        assert code == 0, cap.err
        masks[backend] = _masks(tmp_path / backend)
    assert counting_backend.calls > 0
    assert np.array_equal(masks["onnxruntime"], masks["counting-ort"])


# ---------------------------------------------------------------------------------- an output format
@pytest.fixture
def areas_sink(monkeypatch):
    from motionseg_trt.io import sinks

    monkeypatch.setitem(sinks.SINKS, "areas", "_extensions:AreasCsvSink")


def test_an_output_format_is_one_class_and_one_row(areas_sink, clip, tmp_path, capsys):
    out = tmp_path / "o"
    code, cap = _run(capsys, clip, "--out", out, "--motion-model", "geometric")
    assert code == 0, cap.err
    lines = (out / "areas.csv").read_text().splitlines()
    assert lines[0] == "frame,areas" and len(lines) == 1 + 12
    objects = json.loads((out / "objects.json").read_text())["objects"]
    for obj in objects:  # the same areas as objects.json, frame by frame
        for f in obj["frames"]:
            assert f"{obj['id']}:{f['area']}" in lines[1 + f["frame"]].split(",")[1].split()
    assert json.loads((out / "run.json").read_text())["outputs"]["areas"] == "areas.csv"
    # --overwrite clears it with the other results, and nothing of the user's
    from motionseg_trt.io.output_dir import our_files, prepare_output_dir

    assert "areas.csv" in our_files()
    (out / "notes.txt").write_text("mine")
    prepare_output_dir(str(out), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [".motionseg-trt", "masks", "notes.txt"]  # + our marker
