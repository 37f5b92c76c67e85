"""Depth-Anything-V2 disparity: baked position embeddings equal transformers' own resize, ONNX
parity (fp32 and fp16), per-frame min-max, the processor's size rule."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
ort = pytest.importorskip("onnxruntime")

from motionseg_trt.features.depth import (DepthAnythingDisparity, build_depth_model, depth_input_size,  # noqa: E402
                                          load_depth_weights, preprocess_depth)

H, W = 40, 60
IN_HW = depth_input_size(H, W, side=42)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    m = build_depth_model("small", num_layers=4, seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return m


def test_processor_size_rule():
    assert depth_input_size(480, 854) == (518, 924)
    assert depth_input_size(1080, 1920) == (518, 924)
    assert depth_input_size(854, 480) == (924, 518)
    assert IN_HW == (42, 56)


def test_baked_module_equals_transformers_forward(model):
    from transformers import DepthAnythingForDepthEstimation

    reference = DepthAnythingForDepthEstimation(model.config).eval()
    reference.load_state_dict(model.state_dict())
    mod = DepthAnythingDisparity(model, IN_HW, (H, W)).eval()
    x = torch.randn(2, 3, *IN_HW, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours = mod(x).numpy()
        d = reference(x).predicted_depth  # runs transformers' bicubic position resize at run time
        d = torch.nn.functional.interpolate(d[:, None], (H, W), mode="bicubic", align_corners=False)[:, 0].numpy()
    d = (d - d.min((1, 2), keepdims=True)) / (d.max((1, 2), keepdims=True) - d.min((1, 2), keepdims=True))
    assert ours.shape == (2, H, W)
    assert np.abs(ours - d).max() < 1e-5
    assert np.allclose(ours.min((1, 2)), 0) and np.allclose(ours.max((1, 2)), 1)


@pytest.mark.slow
@pytest.mark.parametrize("fp16,tol", [(False, 1e-4), (True, 2e-2)])
def test_onnx_parity(model, tmp_path, fp16, tol):
    from motionseg_trt.export.depth import export_depth
    from motionseg_trt.export.onnx_utils import op_types

    mod = DepthAnythingDisparity(model, IN_HW, (H, W)).eval()
    path = export_depth(str(tmp_path / "depth.onnx"), H, W, fp16=fp16, module=mod)
    import onnx

    resize_modes = [a.s.decode() for n in onnx.load(path).graph.node if n.op_type == "Resize"
                    for a in n.attribute if a.name == "mode"]
    # only the head's bilinear upsamplings and the output's plain bicubic: no antialias anywhere
    assert set(resize_modes) <= {"linear", "cubic"}
    assert all(a.name != "antialias" or a.i == 0 for n in onnx.load(path).graph.node for a in n.attribute)
    assert "ReduceMin" in op_types(path)
    x = np.random.default_rng(0).standard_normal((3, 3, *IN_HW)).astype(np.float32)
    out = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"pixel_values": x})[0]
    with torch.no_grad():
        ref = mod(torch.from_numpy(x)).numpy()
    assert out.shape == (3, H, W) and out.dtype == np.float32
    assert np.abs(out - ref).max() <= tol


def test_constant_frame_gives_zero(model):
    mod = DepthAnythingDisparity(model, IN_HW, (H, W)).eval()
    with torch.no_grad():
        for p in mod.model.head.conv3.parameters():
            p.zero_()  # the head outputs relu(0) = 0 everywhere
        out = mod(torch.randn(1, 3, *IN_HW)).numpy()
    assert np.all(out == 0) and np.isfinite(out).all()


def test_loads_transformers_checkpoint_with_legacy_names(model, tmp_path):
    from safetensors.torch import save_file

    sd = {k.replace("attention.q_proj.", "attention.attention.query.")
           .replace("attention.k_proj.", "attention.attention.key.")
           .replace("attention.v_proj.", "attention.attention.value.")
           .replace("attention.o_proj.", "attention.output.dense."): v.contiguous()
          for k, v in model.state_dict().items()}
    (tmp_path / "hf").mkdir()
    save_file(sd, str(tmp_path / "hf" / "model.safetensors"))
    fresh = build_depth_model("small", num_layers=4, seed=9)
    load_depth_weights(fresh, str(tmp_path / "hf"))
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k


def test_preprocess_shape():
    frames = np.random.default_rng(0).integers(0, 255, (2, H, W, 3), dtype=np.uint8)
    x = preprocess_depth(frames, IN_HW)
    assert x.shape == (2, 3, *IN_HW) and x.dtype == np.float32
