"""``motionseg-trt build`` and ``motionseg-trt run --backend trt`` must ask the TensorRT loader for the
same engines (ONNX graph, precision, shape profiles, cache folder, entry name), otherwise a run
rebuilds what ``build`` already compiled, or cannot build at all. Both read the stages' own network
descriptions; this checks the whole path. TensorRT is not needed: the loader class is replaced by a
recorder and each side's requests are compared."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from motionseg_trt.config import RunConfig  # noqa: E402

pytestmark = pytest.mark.slow  # exports every network whose engines it compares


class _Recorder:
    """Stands in for ``EngineFromOnnx``: records what each construction asks for."""

    def __init__(self):
        self.calls = []
        rec = self

        class FakeEngineFromOnnx:
            def __init__(self, onnx_path, fp16=False, profiles=None, cache_dir=None, name=None, **_):
                from motionseg_trt.runtime.tensorrt import normalize_profiles

                rec.calls.append({"onnx": os.path.abspath(os.fspath(onnx_path)), "fp16": bool(fp16),
                                  "profiles": normalize_profiles(profiles),
                                  "cache_dir": os.path.abspath(str(cache_dir)) if cache_dir else None,
                                  "name": name})

            def serialized_engine(self):
                return b"plan"

        self.cls = FakeEngineFromOnnx

    def take(self):
        calls, self.calls = self.calls, []
        return sorted(calls, key=lambda c: c["name"] or "")


class _UnstartedRunner:
    def __init__(self, loader):
        self.loader = loader

    def activate(self):
        return self


@pytest.fixture
def recorder(monkeypatch):
    import motionseg_trt.runtime.tensorrt.backend as trt_backend

    rec = _Recorder()
    monkeypatch.setattr(trt_backend, "EngineFromOnnx", rec.cls)
    monkeypatch.setattr(trt_backend, "TrtRunner", _UnstartedRunner)  # activating would need a GPU
    monkeypatch.setattr(trt_backend.TensorrtBackend, "missing", lambda self, build=False: None)  # "installed"
    return rec


def _build(argv):
    from motionseg_trt.cli.main import main

    assert main(["build", "--backend", "trt", "--no-progress"] + argv) == 0


def test_sam2_run_uses_the_engines_build_made(recorder, tmp_path, monkeypatch):
    pytest.importorskip("sam2")
    from motionseg_trt.masks.sam2.densifier import Sam2Densifier

    monkeypatch.delenv("MOTIONSEG_SAM2_IMAGE_SIZE", raising=False)
    cache = tmp_path / "engines"
    _build(["--models", "official", "--only", "sam2", "--random-weights", "--fp16",
            "--engine-cache", str(cache), "--option", "sam2_image_size=128"])
    built = recorder.take()
    assert [c["name"] for c in built] and all(c["profiles"] is not None for c in built)

    config = RunConfig(models="official", backend="trt", fp16=True, engine_cache=str(cache),
                       densifier="sam2", extra={"random_weights": True, "sam2_image_size": 128})
    Sam2Densifier(config).predictor  # builds the predictor and attaches the four TensorRT runners
    asked = recorder.take()
    assert len(asked) == 4
    assert asked == built
    assert all(c["cache_dir"] == os.path.abspath(cache / "trt") for c in asked)
    # dynamic inputs (points, memory bank) come with shape profiles
    decoder = next(c for c in asked if c["name"].endswith("_prompt_mask_decoder"))
    assert any(row[0] == "point_coords" for prof in decoder["profiles"] for row in prof)
    assert all(c["fp16"] for c in asked)


@pytest.fixture(scope="module")
def tracker_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("tracker") / "engines"  # both cases reuse one export


@pytest.mark.parametrize("offline", [False, True], ids=["streaming", "offline"])
def test_tracker_run_uses_the_engines_build_made(recorder, tracker_cache, offline):
    from motionseg_trt.tracks.bootstapir.predictor import BootsTapirTracker

    cache = tracker_cache
    _build(["--models", "official", "--only", "tracker", "--random-weights", "--fp16", "--window", "12",
            "--engine-cache", str(cache)] + (["--offline"] if offline else []))
    built = recorder.take()
    assert [c["name"] for c in built] == ["bootstapir_features_random0", "bootstapir_track_q256_random0"]

    config = RunConfig(models="official", backend="trt", fp16=True, window=12, offline=offline,
                       engine_cache=str(cache), extra={"random_weights": True})
    BootsTapirTracker(config).engine  # exports (or finds) the graphs and creates the two runners
    asked = recorder.take()
    assert asked == built
    track = dict((row[0], row[1:]) for row in asked[1]["profiles"][0])
    # offline: one window is the whole clip, so the track graph takes up to 512 frames
    assert track["hires"][2][0] == (512 if offline else 12)


def test_learned_classifier_run_uses_the_engine_build_made(recorder, tmp_path):
    """The embedded set's network: same ONNX, profiles (tracks up to learned_chunk), cache and name."""
    from motionseg_trt.motion.learned import LearnedLabeller

    cache = tmp_path / "engines"
    _build(["--models", "embedded", "--motion-model", "learned", "--features", "none", "--densifier", "embedded",
            "--fp16", "--window", "12", "--engine-cache", str(cache)])
    built = recorder.take()
    assert [c["name"].split("_")[:2] for c in built] == [["learned", "classifier"]]

    LearnedLabeller(RunConfig(backend="trt", fp16=True, window=12, engine_cache=str(cache)))
    asked = recorder.take()
    assert asked == built
    assert asked[0]["cache_dir"] == os.path.abspath(cache / "trt")
    traj = dict((row[0], row[1:]) for row in asked[0]["profiles"][0])["traj"]
    from motionseg_trt.motion.learned import OPTIONS
    from motionseg_trt.options import defaults_of

    assert defaults_of(OPTIONS)["learned_chunk"] == 128  # the tracks per window the shipped weights trained with
    assert traj[2] == (1, 128, 12, 2)  # [1, learned_chunk tracks, window frames, xy]


def test_official_classifier_run_uses_the_engine_build_made(recorder, tmp_path):
    from motionseg_trt.motion.classifier.labeller import OfficialClassifierLabeller

    cache = tmp_path / "engines"
    _build(["--models", "official", "--only", "classifier", "--random-weights", "--window", "12",
            "--engine-cache", str(cache)])
    built = recorder.take()
    OfficialClassifierLabeller(RunConfig(models="official", motion_model="official", backend="trt", window=12,
                                         engine_cache=str(cache), extra={"random_weights": True}))
    assert recorder.take() == built and len(built) == 1
