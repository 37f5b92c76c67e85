"""TensorRT engine cache: the key covers ONNX content, GPU, TensorRT version, precision and profile;
corrupt or stale entries are rebuilt, never trusted. TensorRT is absent here, so a fake builder is
injected; the real build/run paths must fail with UnavailableError, not an ImportError."""
import json
import importlib.util

import numpy as np
import pytest

from motionseg_trt.errors import UnavailableError
from motionseg_trt.runtime.tensorrt import EngineFromOnnx, EngineKey, TrtRunner, normalize_profiles
from motionseg_trt.runtime.tensorrt.cache import MANIFEST, PLAN, onnx_digest

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None


def write_onnx(path, scale=2.0):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    s = helper.make_tensor("s", TensorProto.FLOAT, [1], [scale])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "s"], ["y"])], "g", [x], [y], [s])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


PROFILE = {"x": ((1, 4), (2, 4), (8, 4))}
BASE = dict(onnx_sha256="a" * 64, compute_capability="9.0", trt_version="10.13.0", precision="fp16",
            profiles=normalize_profiles(PROFILE))


@pytest.mark.parametrize("field,value", [
    ("onnx_sha256", "b" * 64), ("compute_capability", "8.9"), ("trt_version", "11.0.0"),
    ("precision", "fp32"), ("profiles", normalize_profiles({"x": ((1, 4), (4, 4), (8, 4))})),
])
def test_key_changes_when_any_part_changes(field, value):
    assert EngineKey(**BASE).digest() == EngineKey(**BASE).digest()
    assert EngineKey(**{**BASE, field: value}).digest() != EngineKey(**BASE).digest()


def test_onnx_digest_follows_content(tmp_path):
    a = write_onnx(tmp_path / "a.onnx", 2.0)
    b = write_onnx(tmp_path / "b.onnx", 2.0)
    c = write_onnx(tmp_path / "c.onnx", 3.0)
    assert onnx_digest(a) == onnx_digest(b) != onnx_digest(c)


def test_profiles_are_validated_and_canonical():
    assert normalize_profiles({"b": ((1,), (1,), (2,)), "a": ((1,), (2,), (2,))})[0][0][0] == "a"
    with pytest.raises(ValueError):
        normalize_profiles({"x": ((4, 4), (2, 4), (8, 4))})


class FakeBuilder:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return b"PLAN-" + bytes([self.calls]) * 64


def loader(tmp_path, onnx_path, builder, **kw):
    args = dict(fp16=True, profiles=PROFILE, cache_dir=str(tmp_path / "cache"), build_fn=builder,
                trt_version="10.13.0", capability="9.0", name="toy")
    args.update(kw)
    return EngineFromOnnx(onnx_path, **args)


def test_built_once_then_served_from_cache(tmp_path):
    path = write_onnx(tmp_path / "m.onnx")
    build = FakeBuilder()
    first = loader(tmp_path, path, build).serialized_engine()
    again = loader(tmp_path, path, build).serialized_engine()
    assert first == again and build.calls == 1
    # another precision / GPU / TensorRT version is another engine
    loader(tmp_path, path, build, fp16=False).serialized_engine()
    loader(tmp_path, path, build, capability="8.6").serialized_engine()
    loader(tmp_path, path, build, trt_version="11.0.0").serialized_engine()
    assert build.calls == 4
    # a changed ONNX file is a new key: rebuilt
    write_onnx(tmp_path / "m.onnx", 5.0)
    loader(tmp_path, path, build).serialized_engine()
    assert build.calls == 5


def entry_of(tmp_path, ld):
    return ld.cache.entry_dir(ld.key(), ld.name)


@pytest.mark.parametrize("damage", ["flip_plan_byte", "truncate_plan", "delete_plan", "garbage_manifest",
                                    "manifest_for_other_key"])
def test_corrupt_or_stale_entry_is_rebuilt(tmp_path, damage, capsys):
    path = write_onnx(tmp_path / "m.onnx")
    build = FakeBuilder()
    ld = loader(tmp_path, path, build)
    good = ld.serialized_engine()
    entry = entry_of(tmp_path, ld)
    plan, manifest = entry / PLAN, entry / MANIFEST
    if damage == "flip_plan_byte":
        data = bytearray(plan.read_bytes())
        data[10] ^= 0xFF
        plan.write_bytes(bytes(data))
    elif damage == "truncate_plan":
        plan.write_bytes(plan.read_bytes()[:5])
    elif damage == "delete_plan":
        plan.unlink()
    elif damage == "garbage_manifest":
        manifest.write_text("{not json")
    else:
        m = json.loads(manifest.read_text())
        m["key"]["trt_version"] = "9.0.0"
        manifest.write_text(json.dumps(m))
    rebuilt = loader(tmp_path, path, build).serialized_engine()
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "invalid" in notice[0] and "building it again" in notice[0]  # one line
    assert build.calls == 2
    assert rebuilt != good  # the fake builder's second plan: it really was rebuilt
    assert loader(tmp_path, path, build).serialized_engine() == rebuilt and build.calls == 2


def test_failed_build_leaves_no_entry(tmp_path):
    path = write_onnx(tmp_path / "m.onnx")

    def boom():
        raise RuntimeError("builder crashed")

    ld = loader(tmp_path, path, boom)
    with pytest.raises(RuntimeError):
        ld.serialized_engine()
    assert not entry_of(tmp_path, ld).exists()
    root = tmp_path / "cache"
    assert not root.exists() or not any(p.name.startswith(".") for p in root.iterdir())


@pytest.mark.skipif(HAVE_TRT, reason="TensorRT is installed here")
def test_without_tensorrt_the_trt_paths_say_so(tmp_path):
    path = write_onnx(tmp_path / "m.onnx")
    runner = TrtRunner(EngineFromOnnx(path, fp16=True, profiles=PROFILE, cache_dir=str(tmp_path / "c")))
    assert isinstance(runner, TrtRunner)  # importing and constructing never needs TensorRT
    with pytest.raises(UnavailableError, match="TensorRT is not installed"):
        runner.infer({"x": np.ones((2, 4), np.float32)})
    with pytest.raises(UnavailableError, match="TensorRT is not installed"):
        EngineFromOnnx(path, profiles=PROFILE, cache_dir=str(tmp_path / "c"), capability="9.0").serialized_engine()


def test_fp16_graph_for_strongly_typed_tensorrt(tmp_path):
    """TensorRT 11 has no FP16 flag: the loader converts the graph to float16 types first, keeping
    float32 inputs/outputs. The converted graph must still compute the same thing."""
    pytest.importorskip("onnxconverter_common")
    ort = pytest.importorskip("onnxruntime")
    import onnx

    from motionseg_trt.runtime.tensorrt import fp16_onnx

    src = write_onnx(tmp_path / "m.onnx", 2.0)
    out = fp16_onnx(src)
    assert out != src and fp16_onnx(src) == out  # cached by content
    model = onnx.load(out)
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    y = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert y.dtype == np.float32 and np.allclose(y, 2 * x)
    assert fp16_onnx(out) == out  # already fp16: left alone


@pytest.mark.skipif(HAVE_TRT, reason="TensorRT is installed here")
def test_a_run_with_networks_on_trt_without_tensorrt_fails_before_any_stage_is_built(tmp_path):
    from motionseg_trt.config import RunConfig
    from motionseg_trt.stages import build_stages

    for stages in ({"models": "official", "tracker": "flow", "motion_model": "geometric", "densifier": "embedded"},
                   {"motion_model": "learned", "densifier": "embedded"}, {}):
        config = RunConfig(backend="trt", engine_cache=str(tmp_path), extra={"random_weights": True}, **stages)
        with pytest.raises(UnavailableError, match="TensorRT is not installed"):
            build_stages(config)
    assert not any(tmp_path.iterdir())  # nothing exported before saying so
    # the geometric labeller and the edge fill run no network
    build_stages(RunConfig(backend="trt", motion_model="geometric", densifier="embedded"))
