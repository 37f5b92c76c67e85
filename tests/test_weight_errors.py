"""Errors that say everything at once: every missing weight file of a run (or a build) in one message,
each with the download command or the option that supplies it; and a ``--backend`` / ``--device``
that nothing in the run could use named in a warning (stderr and run.json), never silent."""
from __future__ import annotations

import json

import pytest
from _video import make_pan_frames, write_video

from motionseg_trt import segment
from motionseg_trt.cli.main import main
from motionseg_trt.config import RunConfig
from motionseg_trt.errors import ModelFileError
from motionseg_trt.official_weights import weight_path
from motionseg_trt.stages import check_weights_of, chosen

OFFICIAL = {"bootstapir": "--option tracker_checkpoint=PATH", "dinov2_vitb14": "--option dino_weights=PATH",
            "depth_anything_v2_small": "--option depth_weights=PATH", "moseg": "--classifier-checkpoint PATH",
            "sam2.1_hiera_tiny": "--sam2-checkpoint PATH"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("w") / "clip.mp4")
    write_video(path, make_pan_frames(8, (64, 48)).frames)
    return path


def _official_classes(**fields):
    config = RunConfig(models="official", tracker="bootstapir", motion_model="official", densifier="sam2", **fields)
    return config, [s.load() for s in chosen(config).values()]


def test_a_run_names_every_missing_file_and_what_supplies_it(clip, tmp_path, capsys):
    weights = tmp_path / "weights"
    code = main(["run", clip, "--out", str(tmp_path / "o"), "--models", "official", "--weights-dir", str(weights)])
    err = capsys.readouterr().err
    assert code == 5 and "Traceback" not in err
    assert err.startswith("motionseg-trt: error: 5 model files missing:") and len(err.strip().splitlines()) == 1
    items = err.strip().split("; ")  # one line (as every error), one item per file
    for name, option in OFFICIAL.items():
        item = next(i for i in items if f"--only {name} --dir" in i and "all 5" not in i)
        assert str(weight_path(name, str(weights))) in item and item.endswith(option + ")")
    assert items[-1].startswith("all 5 at once") and items[-1].endswith(" ".join(f"--only {n}" for n in OFFICIAL) + "`")
    assert not (tmp_path / "o").exists()


def test_given_paths_and_present_files_are_not_asked_for(tmp_path):
    weights = tmp_path / "weights"
    moseg = weight_path("moseg", str(weights))
    moseg.parent.mkdir(parents=True)
    moseg.write_bytes(b"x")
    config, classes = _official_classes(weights_dir=str(weights), sam2_checkpoint=str(tmp_path / "nope.pt"),
                                        extra={"dino_variant": "vits14"})
    with pytest.raises(ModelFileError) as info:
        check_weights_of(config, classes)
    message = str(info.value)
    assert message.startswith("4 model files missing") and "--only moseg" not in message
    assert f"{tmp_path / 'nope.pt'} not found (given by --sam2-checkpoint PATH)" in message
    assert "--only dinov2_vits14" in message and "all 3 at once" in message
    # random weights need no file, except a path given explicitly
    config, classes = _official_classes(extra={"random_weights": True, "depth_weights": str(tmp_path / "d")})
    with pytest.raises(ModelFileError, match=r"^model file missing: Depth-Anything-V2 \(small\): .*/d not found"):
        check_weights_of(config, classes)


def test_the_python_api_names_its_arguments(clip, tmp_path):
    with pytest.raises(ModelFileError) as info:
        segment(clip, models="official", weights_dir=str(tmp_path / "w"))
    message = str(info.value)
    for option in ("tracker_checkpoint=PATH", "dino_weights=PATH", "depth_weights=PATH",
                   "classifier_checkpoint=PATH", "sam2_checkpoint=PATH"):
        assert option in message
    assert "--option" not in message and "--sam2-checkpoint" not in message


def test_build_names_every_missing_file_before_exporting(tmp_path, capsys):
    cache = tmp_path / "engines"
    code = main(["build", "--fp16", "--backend", "onnxruntime", "--weights-dir", str(tmp_path / "w"),
                 "--engine-cache", str(cache), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 5 and "5 model files missing" in err and err.count("motionseg-trt download --only") == 5
    assert not cache.exists()


def test_a_backend_nothing_uses_is_named_in_a_warning(clip, tmp_path, capsys):
    assert main(["run", clip, "--out", str(tmp_path / "o"), "--backend", "trt", "--no-progress",
                 "--motion-model", "geometric", "--densifier", "embedded"]) == 0
    err = capsys.readouterr().err
    warning = "--backend trt: no stage of this run runs a network"
    assert warning in err and "nothing ran on TensorRT" in err
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert any(w.startswith(warning) for w in record["warnings"])
    # the default backend says nothing
    assert main(["run", clip, "--out", str(tmp_path / "p"), "--no-progress"]) == 0
    assert "warning" not in capsys.readouterr().err
