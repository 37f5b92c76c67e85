"""The four exported SAM2 parts vs PyTorch (ONNX Runtime, random-init SAM2.1-tiny at 128 px), and the
exported backend vs the PyTorch backend on whole prompting/propagation runs.

128 px instead of SAM2's 1024 keeps the test fast on one CPU core (the encoder takes ~8 s per frame
at 1024 here); the graphs are the same at any size that is a multiple of 16.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sam2")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from motionseg_trt.export import sam2 as ex  # noqa: E402

pytestmark = pytest.mark.slow  # exports SAM2's four parts

SIZE = 128


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model

    return build_sam2_video_model("sam2.1_hiera_t", None, image_size=SIZE, seed=0)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return ex.export_all(model, str(tmp_path_factory.mktemp("sam2parts")))


def _runners(exported):
    from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx

    return {part: OnnxrtRunner(SessionFromOnnx(path, intra_op_threads=1)) for part, path in exported.items()}


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _compare(model, exported, part, tol=1e-4, **kw):
    inputs, outputs, _ = ex.part_io(part)
    x = ex.example_inputs(model, part, **kw)
    with torch.no_grad():
        ref = ex.part_module(model, part)(*x)
    ref = ref if isinstance(ref, tuple) else (ref,)
    got = _session(exported[part]).run(outputs, {n: v.numpy() for n, v in zip(inputs, x)})
    for name, g, r in zip(outputs, got, ref):
        assert g.shape == tuple(r.shape), name
        scale = max(1.0, float(r.abs().max()))
        assert np.abs(g - r.numpy()).max() <= tol * scale, (part, name, np.abs(g - r.numpy()).max())
    return got, ref


def test_image_encoder_parity(model, exported):
    got, ref = _compare(model, exported, "image_encoder", seed=1)
    # the wrapper is SAM2's forward_image: same features as the model's own call
    with torch.no_grad():
        own = model.forward_image(ex.example_inputs(model, "image_encoder", seed=1)[0])
    assert torch.allclose(own["backbone_fpn"][0], ref[0]) and torch.allclose(own["vision_pos_enc"][2], ref[5])


@pytest.mark.parametrize("num_points", [1, 3, 7])
def test_prompt_mask_decoder_parity_dynamic_points(model, exported, num_points):
    _compare(model, exported, "prompt_mask_decoder", num_points=num_points, seed=num_points)


def test_prompt_mask_decoder_without_mask_matches_sam2(model):
    """The has_mask_input=0 branch is SAM2's "no mask" embedding: compare with SAM2's own modules."""
    x = list(ex.example_inputs(model, "prompt_mask_decoder", num_points=2, seed=3))
    x[6] = torch.zeros(1)
    with torch.no_grad():
        masks, iou, tokens, obj = ex.part_module(model, "prompt_mask_decoder")(*x)
        sparse, dense = model.sam_prompt_encoder(points=(x[3], x[4]), boxes=None, masks=None)
        ref = model.sam_mask_decoder.predict_masks(x[0], model.sam_prompt_encoder.get_dense_pe(), sparse, dense,
                                                   repeat_image=False, high_res_features=[x[1], x[2]])
    assert torch.allclose(masks, ref[0], atol=1e-5) and torch.allclose(obj, ref[3], atol=1e-5)


@pytest.mark.parametrize("frames,ptrs", [(1, 4), (3, 16), (7, 64)])
def test_memory_attention_parity(model, exported, frames, ptrs):
    _compare(model, exported, "memory_attention", memory_frames=frames, ptr_tokens=ptrs, seed=frames)


def test_memory_attention_matches_sam2_and_ignores_padding(model, exported):
    """Against SAM2's own (complex-RoPE) MemoryAttention, unpadded and padded to fixed slots."""
    x = ex.example_inputs(model, "memory_attention", memory_frames=2, ptr_tokens=8, seed=9)
    curr, cpos, ms, msp, mp, mpp, _, _ = x
    with torch.no_grad():
        ref = model.memory_attention(curr=[curr.transpose(0, 1)], curr_pos=[cpos.transpose(0, 1)],
                                     memory=torch.cat([ms, mp], 1).transpose(0, 1),
                                     memory_pos=torch.cat([msp, mpp], 1).transpose(0, 1),
                                     num_obj_ptr_tokens=8).transpose(0, 1).numpy()
    hw = ms.shape[1] // 2
    g = torch.Generator().manual_seed(0)
    pad = lambda t, n: torch.cat([t, 100 * torch.randn(1, n, t.shape[2], generator=g)], 1)  # noqa: E731
    feed = dict(zip(ex.MEMATTN_INPUTS, [curr, cpos, pad(ms, 3 * hw), pad(msp, 3 * hw), pad(mp, 56), pad(mpp, 56),
                                        torch.cat([torch.ones(1, 2 * hw), torch.zeros(1, 3 * hw)], 1),
                                        torch.cat([torch.ones(1, 8), torch.zeros(1, 56)], 1)]))
    got = _session(exported["memory_attention"]).run(None, {k: v.numpy() for k, v in feed.items()})[0]
    assert np.abs(got - ref).max() < 1e-4


def test_memory_attention_graph_has_no_complex_ops(exported):
    import onnx

    g = onnx.load(exported["memory_attention"])
    assert not [n for n in g.graph.node if "Complex" in n.op_type or n.op_type in ("DFT", "STFT")]
    types = {v.type.tensor_type.elem_type for v in list(g.graph.input) + list(g.graph.output)}
    assert onnx.TensorProto.COMPLEX64 not in types


def test_memory_encoder_parity(model, exported):
    _compare(model, exported, "memory_encoder", seed=4)


# -------------------------------------------------------------- the whole video path, both backends
def _clip():
    t_len, h, w = 6, 40, 56
    frames = np.full((t_len, h, w, 3), 40, np.uint8)
    for t in range(t_len):
        frames[t, 8:24, 6 + 3 * t:22 + 3 * t] = (220, 60, 60)
    return frames


def _run_video(predictor, frames):
    from motionseg_trt.masks.sam2.session import Sam2VideoSession

    s = Sam2VideoSession(predictor, frames)
    out = [s.add_points(3, 1, np.array([[14.0, 15.0]], np.float32))]
    out.append(s.add_points(3, 1, np.array([[14.0, 15.0], [10, 10], [20, 20]], np.float32)))
    s.add_points(0, 2, np.array([[40.0, 30.0]], np.float32))
    for reverse in (False, True):
        for f, ids, m in s.propagate(reverse):
            out.append(m)
    s.reset()
    s.add_mask(1, 5, out[0])
    out += [m for _, _, m in s.propagate(False)]
    return out


@pytest.mark.parametrize("slots", [None, (9, 64)], ids=["dynamic", "fixed-slots"])
def test_exported_backend_gives_the_pytorch_masks(model, exported, slots):
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model
    from motionseg_trt.masks.sam2.parts import Sam2PartRunners, attach_parts

    frames = _clip()
    ref = _run_video(model, frames)
    onnx_model = build_sam2_video_model("sam2.1_hiera_t", None, image_size=SIZE, seed=0)
    runners = Sam2PartRunners(onnx_model, _runners(exported), memory_slots=slots and slots[0],
                              pointer_slots=slots and slots[1])
    got = _run_video(attach_parts(onnx_model, runners), frames)
    assert len(got) == len(ref)
    for a, b in zip(ref, got):
        # equal up to pixels whose logit is within float rounding of 0 (usually none at all)
        assert a.shape == b.shape and (a != b).mean() <= 1e-3
    assert any(m.any() for m in ref) and not all(m.all() for m in ref)  # not a trivial comparison


def test_too_small_fixed_slots_are_an_error(model, exported):
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model
    from motionseg_trt.masks.sam2.parts import Sam2PartRunners, attach_parts

    m = build_sam2_video_model("sam2.1_hiera_t", None, image_size=SIZE, seed=0)
    attach_parts(m, Sam2PartRunners(m, _runners(exported), memory_slots=1, pointer_slots=4))
    with pytest.raises(ValueError, match="fixed slots"):
        _run_video(m, _clip())
