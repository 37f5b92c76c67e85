"""BootsTAPIR parity: our network against the golden fixture (formula weights) through PyTorch, and the
exported ONNX graphs against PyTorch through ONNX Runtime.

About the ONNX features graph on the fixture: with the formula weights the ResNet is chaotic (its
InstanceNorms divide by tiny spreads): a 1e-6 change of the input moves lowres features by 1e-2 and
tracks by pixels, in PyTorch itself. ONNX Runtime's convolutions round differently, so the *features*
graph is compared with PyTorch on seeded default-init weights, where the network is well conditioned,
and the *tracking* graph is compared with the golden outputs given PyTorch's features.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow  # runs and exports the full BootsTAPIR network

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "bootstapir"
needs_fixture = pytest.mark.skipif(not (FIXTURE / "manifest.json").is_file(),
                                   reason=f"BootsTAPIR fixture not found at {FIXTURE}")
TOL = 1e-2
FRACTION = 0.99


def _within(out: np.ndarray, ref: np.ndarray, tol=TOL) -> float:
    assert out.shape == ref.shape
    return float(np.mean(np.abs(out - ref) <= tol))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(scope="module")
def fixture_io():
    from safetensors.numpy import load_file

    inputs = load_file(str(FIXTURE / "inputs.safetensors"))
    outputs = load_file(str(FIXTURE / "outputs.safetensors"))
    frames = inputs["video_u8"].astype(np.float32) / 255.0 * 2.0 - 1.0
    return frames, inputs["query_points"][0], outputs


@pytest.fixture(scope="module")
def formula_model():
    from motionseg_training.parity.tracker import build_formula_model

    return build_formula_model(FIXTURE / "manifest.json")


@pytest.fixture(scope="module")
def torch_run(formula_model, fixture_io):
    frames, queries, _ = fixture_io
    with torch.no_grad():
        hires, lowres = formula_model.extract_features(torch.from_numpy(frames))
        tracks, occ, expd = formula_model.track(hires, lowres, torch.from_numpy(queries))
    return {"hires": hires.numpy(), "lowres": lowres.numpy(),
            "tracks": tracks.numpy(), "occlusion": occ.numpy(), "expected_dist": expd.numpy()}


def _ort(path):
    from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx

    return OnnxrtRunner(SessionFromOnnx(str(path), intra_op_threads=1)) if path is not None else None


def _torch(model, query_chunk=256, frame_chunk=10):
    """The two graphs of ``model`` on the PyTorch backend (the reference)."""
    from motionseg_trt.config import RunConfig
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine
    from motionseg_trt.tracks.bootstapir.predictor import tracker_network

    config = RunConfig(backend="torch", extra={"tracker_query_chunk": query_chunk})
    return TapirEngine.on_backend(config, tracker_network(config, lambda: model, "test"), query_chunk, frame_chunk)


@pytest.fixture(scope="module")
def formula_export(formula_model, tmp_path_factory):
    from motionseg_trt.export.tracker import export_tracker_graph

    # 48 queries per call: the fixture's 64 queries take a full and a padded chunk
    return export_tracker_graph(formula_model, "track", tmp_path_factory.mktemp("bootstapir_onnx") / "track.onnx",
                                query_chunk=48)


@needs_fixture
def test_manifest_keys_and_shapes_are_the_model_state_dict():
    from motionseg_training.parity.formula_weights import model_shapes
    from motionseg_trt.tracks.bootstapir.modeling import build_bootstapir

    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    shapes = model_shapes(build_bootstapir())
    assert shapes == manifest["state_dict"]
    assert sum(int(np.prod(s)) for s in shapes.values()) == manifest["params"]


@needs_fixture
def test_torch_matches_golden_outputs(torch_run, fixture_io):
    _, _, golden = fixture_io
    for name in ("tracks", "occlusion", "expected_dist"):
        frac = _within(torch_run[name][None], golden[name])
        assert frac >= FRACTION, f"{name}: only {frac:.3f} of elements within {TOL}"


@needs_fixture
def test_onnxruntime_tracking_graph_matches_golden(formula_export, torch_run, fixture_io):
    from motionseg_trt.export.tracker import check_graph_ops
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine

    _, queries, golden = fixture_io
    engine = TapirEngine(None, _ort(formula_export), query_chunk=48)
    # exported with 2 example frames, run on the fixture's T frames: the frame axis is dynamic
    out = engine.track(torch_run["hires"], torch_run["lowres"], queries)
    for name in ("tracks", "occlusion", "expected_dist"):
        frac = _within(out[name][None], golden[name])
        assert frac >= FRACTION, f"{name}: only {frac:.3f} of elements within {TOL}"
    check_graph_ops(formula_export)


@needs_fixture
def test_graphs_have_no_grid_sample(formula_export, formula_export_small):
    import onnx

    for path in (formula_export_small, formula_export):
        ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
        assert "GridSample" not in ops and "Einsum" not in ops
        assert "Gather" in ops or "Conv" in ops


@pytest.fixture(scope="module")
def small_model():
    from motionseg_trt.tracks.bootstapir.modeling import build_bootstapir

    torch.manual_seed(0)
    return build_bootstapir().eval()


@pytest.fixture(scope="module")
def formula_export_small(small_model, tmp_path_factory):
    from motionseg_trt.export.tracker import export_tracker_graph

    # 64x64 frames keep the check fast; the graphs are the same code as at 256x256
    return export_tracker_graph(small_model, "features", tmp_path_factory.mktemp("bootstapir_small") / "f.onnx",
                                query_chunk=16, image_size=64)


def test_onnxruntime_features_graph_matches_torch_on_random_weights(small_model, formula_export_small):
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine

    gen = torch.Generator().manual_seed(1)
    frames = (torch.rand(5, 64, 64, 3, generator=gen) * 2 - 1).numpy()  # 5 frames, chunks of 2: dynamic F
    hi_ref, lo_ref = _torch(small_model, frame_chunk=2).features(frames)
    ort = TapirEngine(_ort(formula_export_small), None, 16, frame_chunk=2)
    hi, lo = ort.features(frames)
    assert hi.shape == (5, 16, 16, 128) and lo.shape == (5, 8, 8, 256)
    assert np.abs(hi - hi_ref).max() < 1e-4
    assert np.abs(lo - lo_ref).max() < 1e-4


@needs_fixture
def test_parity_cli_on_a_generated_fixture(tmp_path, formula_model):
    """The CLI reads T, N and the key list from the files: run it on a smaller fixture of the same kind."""
    from safetensors.numpy import load_file, save_file

    from motionseg_training.parity import tracker as parity

    frames_u8 = load_file(str(FIXTURE / "inputs.safetensors"))["video_u8"][:2]
    queries = np.array([[[0, 100.0, 120.0], [1, 30.5, 200.25], [1, 250.0, 3.0]]], np.float32)
    (tmp_path / "manifest.json").write_text((FIXTURE / "manifest.json").read_text())
    save_file({"video_u8": np.ascontiguousarray(frames_u8), "query_points": queries},
              str(tmp_path / "inputs.safetensors"))
    out_path = tmp_path / "out.safetensors"
    assert parity.main([str(tmp_path), str(out_path), "--threads", "1"]) == 0
    out = load_file(str(out_path))
    assert out["tracks"].shape == (1, 3, 2, 2)
    assert out["occlusion"].shape == out["expected_dist"].shape == (1, 3, 2)
    # the same numbers as the network called directly on these inputs
    with torch.no_grad():
        ref = formula_model(torch.from_numpy(frames_u8.astype(np.float32) / 255 * 2 - 1), torch.from_numpy(queries[0]))
    np.testing.assert_allclose(out["tracks"][0], ref[0].numpy(), atol=1e-3)
    np.testing.assert_allclose(out["occlusion"][0], ref[1].numpy(), atol=1e-3)


def test_fp16_export_runs_and_stays_close(tmp_path):
    """fp16 graphs: float32 frames/queries in, float16 features between the graphs, float32 out.
    (A small variant - 2 mixer blocks, no extra convs - keeps it fast; the fp16 path is the same code.)"""
    import onnx

    from motionseg_trt.export.tracker import export_tracker
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine
    from motionseg_trt.tracks.bootstapir.modeling import TAPIR

    torch.manual_seed(0)
    small_model = TAPIR(num_mixer_blocks=2, extra_convs=False).eval()

    info = export_tracker(small_model, tmp_path, query_chunk=8, image_size=64, fp16=True)
    assert info.features.name == "bootstapir_features_fp16.onnx" and info.track.name == "bootstapir_track_q8_fp16.onnx"
    graph = onnx.load(str(info.track), load_external_data=False).graph
    types = {v.name: v.type.tensor_type.elem_type for v in list(graph.input) + list(graph.output)}
    assert types["hires"] == onnx.TensorProto.FLOAT16 and types["query_points"] == onnx.TensorProto.FLOAT
    assert types["tracks"] == onnx.TensorProto.FLOAT
    rng = np.random.default_rng(0)
    frames = rng.uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    queries = np.concatenate([rng.integers(0, 3, (8, 1)), rng.uniform(0, 255, (8, 2))], 1).astype(np.float32)
    ref = _torch(small_model, 8).run(frames, queries)
    out = TapirEngine(_ort(info.features), _ort(info.track), 8).run(frames, queries)
    assert np.abs(out["tracks"] - ref["tracks"]).max() < 0.5  # px of the 256 frame
    assert np.abs(out["occlusion"] - ref["occlusion"]).max() < 0.05
