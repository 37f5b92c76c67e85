"""``motionseg-trt run``: one-line errors with documented exit codes, and a full run."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _video import (make_audio_only, make_corrupt_video, make_pan_frames, make_zero_frame_video,
                    write_video)

from motionseg_trt.cli.main import main


def _run(capsys, *argv):
    code = main(["run", *map(str, argv), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(err, needle):
    # a first run's note that it exports a network comes before any error, and is not part of it
    lines = [line for line in err.strip().splitlines() if line and "(first run only;" not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("motionseg-trt") and needle in lines[0] and "Traceback" not in err


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli") / "clip.mp4")
    write_video(path, make_pan_frames(16, (128, 96), seed=5).frames)
    return path


def test_missing_file(tmp_path, capsys):
    code, _, err = _run(capsys, tmp_path / "nope.mp4", "--out", tmp_path / "o")
    assert code == 3
    _assert_one_line_error(err, "input not found")
    assert not (tmp_path / "o").exists()


def test_not_a_video(tmp_path, capsys):
    (tmp_path / "a.mp4").write_text("hello\n" * 100)
    code, _, err = _run(capsys, tmp_path / "a.mp4", "--out", tmp_path / "o")
    assert code == 3
    _assert_one_line_error(err, "not a video")


def test_no_video_stream(tmp_path, capsys):
    code, _, err = _run(capsys, make_audio_only(str(tmp_path / "a.m4a")), "--out", tmp_path / "o")
    assert code == 3
    _assert_one_line_error(err, "no video stream")


def test_zero_frames(tmp_path, capsys):
    code, _, err = _run(capsys, make_zero_frame_video(str(tmp_path / "z.mkv")), "--out", tmp_path / "o")
    assert code == 3
    _assert_one_line_error(err, "zero frames")


def test_existing_output(tmp_path, capsys, small_clip):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "mine.txt").write_text("keep me")
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o")
    assert code == 4
    _assert_one_line_error(err, "--overwrite")
    assert os.listdir(tmp_path / "o") == ["mine.txt"]


@pytest.mark.parametrize("args", [["--stride", "9", "--window", "8"], ["--window", "0"], ["--stride", "-1"],
                                  ["--models", "nope"]])
def test_bad_arguments(tmp_path, capsys, small_clip, args):
    with pytest.raises(SystemExit) as exc:
        code = main(["run", small_clip, "--out", str(tmp_path / "o"), *args])
        raise SystemExit(code)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_corrupt_stream_writes_outputs_then_fails(tmp_path, capsys):
    frames = make_pan_frames(24, (128, 96), seed=6).frames
    path = make_corrupt_video(str(tmp_path / "bad.mp4"), frames, bad_packet=14)
    out = tmp_path / "o"
    code, stdout, err = _run(capsys, path, "--out", out, "--window", "8", "--stride", "4",
                             "--motion-model", "geometric")
    assert code == 3
    _assert_one_line_error(err, "decoding stopped at frame")
    run = json.load(open(out / "run.json"))
    decoded = run["decode"]["frames_decoded"]
    assert 0 < decoded < 24 and len(os.listdir(out / "masks")) == decoded
    assert (out / "objects.json").exists() and (out / "overlay.mp4").exists()
    assert f"{decoded} frames" in stdout


def test_full_run_and_overwrite(tmp_path, capsys, small_clip):
    out = tmp_path / "o"
    code, stdout, err = _run(capsys, small_clip, "--out", out, "--window", "8", "--stride", "4",
                             "--motion-model", "geometric", "--fp16", "--threads", "1")
    assert code == 0, err
    assert "has no effect on CPU" in err and len(err.strip().splitlines()) == 1
    assert "16 frames" in stdout and str(out) in stdout and "fps" in stdout
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks", "objects.json", "overlay.mp4", "run.json"]
    run = json.load(open(out / "run.json"))
    assert run["config"]["fp16"] and run["config"]["threads"] == 1 and run["config"]["motion_model"] == "geometric"
    # again into the same folder: refused, then accepted with --overwrite
    assert _run(capsys, small_clip, "--out", out)[0] == 4
    code, _, err = _run(capsys, small_clip, "--out", out, "--overwrite", "--no-overlay",
                        "--motion-model", "geometric")
    assert code == 0, err
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks", "objects.json", "run.json"]  # the old overlay is gone


def test_default_output_folder_is_named_after_the_input(tmp_path, capsys, monkeypatch, small_clip):
    from motionseg_trt.cli.run import default_out

    monkeypatch.chdir(tmp_path)
    code, stdout, err = _run(capsys, small_clip, "--window", "8", "--stride", "4", "--no-overlay")
    assert code == 0, err
    out = tmp_path / "clip_motionseg"  # small_clip is .../clip.mp4
    assert str(out) in stdout
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks", "objects.json", "run.json"]
    assert len(os.listdir(out / "masks")) == 16
    # a frame folder is named after the folder, with or without a trailing slash
    assert default_out("shots/take1/") == default_out("shots/take1") == str(tmp_path / "take1_motionseg")
    assert default_out(".") == str(tmp_path / f"{tmp_path.name}_motionseg")
    (tmp_path / "take.2").mkdir()  # a dot in a folder's name is not an extension
    assert default_out("take.2/") == str(tmp_path / "take.2_motionseg")
    assert default_out("clip.v2.mp4") == str(tmp_path / "clip.v2_motionseg")


def test_console_script_entry_point(tmp_path):
    """The installed ``motionseg-trt`` command (python -m motionseg_trt is the same entry point)."""
    proc = subprocess.run([sys.executable, "-m", "motionseg_trt", "run", str(tmp_path / "missing.mp4"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [f"motionseg-trt: error: input not found: {tmp_path / 'missing.mp4'}"]


def test_cli_module_is_light():
    """Parsing the command line must not import torch/onnxruntime (seconds of start-up)."""
    code = ("import sys; from motionseg_trt.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'cv2') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


_SLOW_RUN = """
import signal, sys, time
import numpy as np
# a test runner started in the background (`pytest &` from a script) passes SIGINT on as ignored, and
# Python then installs no KeyboardInterrupt handler: restore it, as an interactive shell would have it
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {tests!r})
import test_pipeline as tp
import motionseg_trt.pipeline as pipeline
from motionseg_trt.features.none import NoFeatures
from motionseg_trt.stages import Stages

class Slow(tp._BrightDensifier):  # a test double that takes its time, so that Ctrl-C lands mid-run
    def densify(self, window, tracks, labels, features=None):
        time.sleep(0.2)
        return super().densify(window, tracks, labels)

pipeline.build_stages = lambda config: Stages(tp._FakeTracker(), NoFeatures(), tp._FakeLabeller(), Slow())
from motionseg_trt.cli.main import main
sys.exit(main(["run", {clip!r}, "--out", {out!r}, "--window", "4", "--stride", "2", "--no-progress"]))
"""


# SIGTERM in the full suite (slow): test_faults.py sends SIGTERM before the first mask every day
@pytest.mark.parametrize("signame", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow)])
def test_ctrl_c_leaves_only_complete_files(tmp_path, signame):
    import signal
    import time

    from PIL import Image

    clip = write_video(str(tmp_path / "long.mp4"), make_pan_frames(120, (64, 48), seed=1).frames)
    out = tmp_path / "out"
    code = _SLOW_RUN.format(tests=os.path.dirname(__file__), clip=clip, out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and (not (out / "masks").is_dir() or len(os.listdir(out / "masks")) < 6):
        time.sleep(0.05)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, signame), err  # 130 for SIGINT, 143 for SIGTERM
    assert err.strip().splitlines() == ["motionseg-trt: interrupted; completed files are kept"]
    # no overlay (partial or not), no objects.json / run.json, no lock; the marker lets --overwrite retry
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks"]
    names = sorted(os.listdir(out / "masks"))
    assert 6 <= len(names) < 120 and names == [f"{i:05d}.png" for i in range(len(names))]
    for name in names:
        Image.open(out / "masks" / name).load()


def test_default_stages_are_the_appearance_pipeline(tmp_path, capsys, small_clip):
    # The default is what measures best on real video; run.json records what actually ran.
    from motionseg_trt.stages import default_motion_model

    assert default_motion_model() == "geometric"
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--no-overlay")
    assert code == 0, err
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert (run["config"]["motion_model"], run["config"]["densifier"]) == ("geometric", "appearance")


def test_learned_model_without_weights_is_exit_5(tmp_path, capsys, monkeypatch, small_clip):
    import motionseg_trt.motion.learned as learned

    monkeypatch.setattr(learned, "weights_dir", lambda: tmp_path / "missing")
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--motion-model", "learned")
    assert code == 5
    _assert_one_line_error(err, "missing/embedded_classifier_v2.safetensors")
    assert not (tmp_path / "o").exists()


def test_stage_options_reach_the_stages(tmp_path, capsys, small_clip):
    """--option KEY=VALUE (typed) and --sam2-image-size land in RunConfig.extra and change what runs:
    an absurd outlier threshold of the geometric labeller leaves no moving object."""
    code, stdout, err = _run(capsys, small_clip, "--out", tmp_path / "a", "--no-overlay")
    assert code == 0, err
    assert " 0 moving object" not in stdout
    code, stdout, err = _run(capsys, small_clip, "--out", tmp_path / "b", "--no-overlay", "--option",
                             "geo_outlier_k=1000", "--option", "fill_sigma=1.5", "--sam2-image-size", "256")
    assert code == 0, err
    assert " 0 moving object" in stdout
    extra = json.loads((tmp_path / "b" / "run.json").read_text())["config"]["extra"]
    assert extra == {"geo_outlier_k": 1000, "fill_sigma": 1.5, "sam2_image_size": 256}


def test_malformed_option_is_a_usage_error(tmp_path, capsys, small_clip):
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--option", "geo_outlier_k")
    assert code == 2
    _assert_one_line_error(err, "KEY=VALUE")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option, needle", [
    ("geo_threshold=abc", "expected float"),
    ("learned_chunk=2.5", "expected int"),
    # values of the right type that a stage cannot use: before, some were tracebacks deep inside a
    # stage (OpenCV's DIS on 0-px images, an unknown preset), others ran silently wrong (gap 0)
    ("geo_model=bogus", "choose one of auto, homography, fundamental"),
    ("densifier_version=v9", "choose one of v1, v2"),
    ("flow_preset=slowest", "choose one of ultrafast, fast, medium"),
    ("geo_gaps_s=0.04,x", "comma-separated gaps in seconds"),
    ("geo_gaps_s=0", "comma-separated gaps in seconds"),
    ("obj_min_score=2", "at most 1.0"),
    ("dup_max_diff=-1", "at least 0"),
    ("cut_ratio=0.5", "at least 1.0"),
    ("flow_side=0", "at least 32"),
    ("track_target=-5", "at least 1"),
    ("learned_threshold=1.5", "at most 1.0"),
    ("fill_sigma=0", "above 0"),
])
def test_stage_option_of_the_wrong_type_is_a_usage_error(tmp_path, capsys, small_clip, option, needle):
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--motion-model", "learned", "--option", option)
    assert code == 2
    _assert_one_line_error(err, needle)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("providers, code", [(["CPUExecutionProvider"], 6),
                                             (["CUDAExecutionProvider", "CPUExecutionProvider"], 0)])
def test_device_cuda_without_a_cuda_provider_is_exit_6(tmp_path, capsys, monkeypatch, small_clip, providers, code):
    """ONNX Runtime would fall back to the CPU without a word: a run that asked for CUDA says what is
    missing instead (the providers are faked, so this holds on a GPU machine too)."""
    import onnxruntime as ort

    from motionseg_trt.config import RunConfig
    from motionseg_trt.runtime.backends import get_backend

    def check_device(config):
        get_backend(config.backend).check_device(config)

    monkeypatch.setattr(ort, "get_available_providers", lambda: providers)
    if code:
        got, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--device", "cuda")
        assert got == 6
        _assert_one_line_error(err, "no CUDA provider")
        assert not (tmp_path / "o").exists()
    else:
        check_device(RunConfig(device="cuda"))  # no error: the run may go on
    check_device(RunConfig(device="cpu"))
    check_device(RunConfig(device="cuda", backend="trt"))  # TensorRT's loader checks for itself


def test_an_option_no_stage_of_the_run_reads_is_named_in_a_warning(tmp_path, capsys, small_clip):
    """A setting of a stage this run does not use changes nothing; the run says so (stderr and
    run.json) rather than leaving the user to believe it took effect. Keys the stages did read are
    not named. (A key that no stage has is an error: tests/test_options.py.)"""
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--no-overlay",
                        "--motion-model", "geometric", "--option", "learned_chunk=64", "--option", "geo_outlier_k=3")
    assert code == 0, err
    warnings = json.loads((tmp_path / "o" / "run.json").read_text())["warnings"]
    assert len(warnings) == 1 and "learned_chunk=64" in warnings[0] and "geo_outlier_k" not in warnings[0]
    assert "warning: no stage of this run read learned_chunk=64" in err


def test_stage_options_remember_what_was_read():
    from motionseg_trt.config import RunConfig, StageOptions

    config = RunConfig(extra={"a": 1, "b": 2, "c": 3})
    assert isinstance(config.extra, StageOptions) and config.extra.unread() == ["a", "b", "c"]
    assert config.extra.get("a") == 1 and config.extra["b"] == 2 and "z" not in config.extra
    assert config.extra.unread() == ["c"]
    import dataclasses

    assert dataclasses.replace(config, window=8).extra is config.extra  # a copy of the config shares the reads
    assert config.to_dict()["extra"] == {"a": 1, "b": 2, "c": 3}


def test_train_without_the_training_package_says_how_to_get_it(monkeypatch, capsys):
    """Training ships apart from the engine: without it, `train` is one line (exit 6), not a traceback."""
    import motionseg_trt.cli.train as train_cli

    monkeypatch.setattr(train_cli, "TRAINING_PACKAGE", "no_such_training_package")
    assert main(["train", "--out", "x"]) == 6
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"motionseg-trt: error: {train_cli.MISSING}"]
    assert "pip install -e ./training" in err


def test_train_is_the_training_packages_command():
    pytest.importorskip("motionseg_training")
    from motionseg_trt.cli.main import build_parser

    args = build_parser().parse_args(["train", "--out", "x", "--epochs", "2"])
    assert args.epochs == 2 and args.func.__module__ == "motionseg_training.cli"


# ----------------------------------------------------------------------------- issue 19: one line everywhere
def test_a_variable_frame_rate_mkv_runs_to_the_end(tmp_path, capsys):
    from _video import make_vfr_mkv

    gaps = np.random.default_rng(1).choice([1 / 60, 1 / 30, 0.25], size=30)
    path = make_vfr_mkv(str(tmp_path / "vfr.mkv"), make_pan_frames(30, (96, 64), seed=2).frames,
                        np.concatenate([[0.0], np.cumsum(gaps[:-1])]))
    code, stdout, err = _run(capsys, path, "--out", tmp_path / "o", "--window", "8", "--stride", "4")
    assert code == 0, err
    assert "30 frames" in stdout and len(os.listdir(tmp_path / "o" / "masks")) == 30


def test_a_size_change_inside_the_stream_is_a_warning(tmp_path, capsys):
    from _video import make_size_change_stream

    path = make_size_change_stream(str(tmp_path / "ab.h264"), make_pan_frames(12, (96, 64), seed=1).frames,
                                   make_pan_frames(12, (128, 96), seed=1).frames)
    code, _, err = _run(capsys, path, "--out", tmp_path / "o", "--window", "8", "--stride", "4", "--no-overlay")
    assert code == 0, err
    assert "frame size changes inside the stream" in err and "first at frame 12, to 128x96" in err
    run = json.load(open(tmp_path / "o" / "run.json"))
    assert run["decode"]["size_changes"] == [[12, 128, 96]]


@pytest.mark.parametrize("args, needle", [
    (["--motion-model", "official"], "--motion-model official belongs to the official model set"),
    (["--features", "official"], "--features official belongs to the official model set"),
    (["--tracker", "bootstapir"], "--tracker bootstapir belongs to the official model set"),
    (["--option", "geo_threshold=nan"], "finite"), (["--option", "geo_threshold=-inf"], "finite"),
    (["--option", "flow_side=inf"], "flow_side"),
])
def test_impossible_settings_are_exit_2_before_any_work(tmp_path, capsys, small_clip, args, needle):
    import time

    t = time.perf_counter()
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", *args)
    assert code == 2
    _assert_one_line_error(err, needle)
    assert time.perf_counter() - t < 10 and not (tmp_path / "o").exists()  # no export, no folder


def test_an_empty_weights_file_is_exit_5(tmp_path, capsys, small_clip):
    (tmp_path / "empty.safetensors").write_bytes(b"")
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "o", "--motion-model", "learned",
                        "--option", f"learned_weights={tmp_path / 'empty.safetensors'}")
    assert code == 5
    _assert_one_line_error(err, "empty.safetensors")
    assert not (tmp_path / "o").exists()


def test_an_empty_checkpoint_is_one_line_not_an_index_error(tmp_path):
    from motionseg_trt.errors import ModelFileError
    from motionseg_trt.motion.classifier.checkpoint import load_classifier

    (tmp_path / "moseg.pth").write_bytes(b"")
    with pytest.raises(ModelFileError, match="is empty"):
        load_classifier(str(tmp_path / "moseg.pth"))


@pytest.mark.parametrize("argv, code, needle", [
    (["build", "--height", "0"], 2, "--height"), (["build", "--window", "-5"], 2, "--window"),
    (["build", "--width", "8"], 2, "at least 12"), (["build", "--only", "nope", "--random-weights"], 2, "unknown network"),
    (["build", "--option", "nokey"], 2, "KEY=VALUE"),
])
def test_build_usage_errors_are_exit_2(tmp_path, capsys, argv, code, needle):
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main([*argv, "--engine-cache", str(tmp_path / "e")]))
    assert exc.value.code == code
    assert needle in capsys.readouterr().err and not (tmp_path / "e").exists()


def test_folders_that_are_files_are_exit_4(tmp_path, capsys, small_clip):
    (tmp_path / "f").write_text("a file")
    assert main(["build", "--engine-cache", str(tmp_path / "f"), "--random-weights", "--only", "dino"]) == 4
    _assert_one_line_error(capsys.readouterr().err, "engine cache folder")
    pytest.importorskip("motionseg_training")
    assert main(["train", "--out", str(tmp_path / "f")]) == 4
    _assert_one_line_error(capsys.readouterr().err, "not a folder")
    assert main(["train", "--out", str(tmp_path / "f" / "run")]) == 4
    _assert_one_line_error(capsys.readouterr().err, "is a file")
    assert (tmp_path / "f").read_text() == "a file"
