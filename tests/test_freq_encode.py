"""Frequency encoding: C++ extension, NumPy/torch fallback, the in-graph torch version and the fixture."""
from __future__ import annotations

import numpy as np
import pytest

from motionseg_trt.ops._ext import load_extension
from motionseg_trt.ops.freq_encoding import freq_encode_numpy, output_width

torch = pytest.importorskip("torch")


def _fixture():
    from _classifier_fixture import FIXTURE

    path = FIXTURE / "freq_embed.safetensors"
    if not path.exists():
        pytest.skip("classifier fixture not found")
    from safetensors.numpy import load_file

    return load_file(str(path))


def _random(shape=(5, 7, 2), seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(np.float32)


def test_public_name_is_the_function():
    from motionseg_trt.ops import freq_encode

    assert callable(freq_encode)


@pytest.mark.parametrize("kind", ["pos", "motion", "edge"])
def test_matches_fixture(kind):
    from motionseg_trt.ops import freq_encode

    fx = _fixture()
    np.testing.assert_array_equal(fx["freq_bands"], 2.0 ** np.arange(10))
    x, ref = fx[f"input_{kind}"], fx[f"output_{kind}"]
    # float64-then-round vs the official float32 sin/cos: within an ulp or two
    np.testing.assert_allclose(freq_encode(x), ref, rtol=0, atol=2.4e-7)
    np.testing.assert_allclose(freq_encode_numpy(x), ref, rtol=0, atol=2.4e-7)


@pytest.mark.parametrize("kind", ["pos", "motion", "edge"])
def test_model_graph_version_matches_fixture(kind):
    from motionseg_trt.motion.classifier.features import freq_encode_torch

    fx = _fixture()
    out = freq_encode_torch(torch.from_numpy(fx[f"input_{kind}"])).numpy()
    np.testing.assert_allclose(out, fx[f"output_{kind}"], rtol=0, atol=1.2e-7)


def test_channel_order():
    a, b = 0.3, -1.1
    out = freq_encode_numpy(np.array([a, b], np.float32), n_bands=2)
    expect = [a, b, np.sin(a), np.sin(b), np.cos(a), np.cos(b), np.sin(2 * a), np.sin(2 * b), np.cos(2 * a), np.cos(2 * b)]
    np.testing.assert_allclose(out, np.array(expect, np.float32), rtol=0, atol=1e-7)
    no_input = freq_encode_numpy(np.array([a, b], np.float32), n_bands=2, include_input=False)
    np.testing.assert_array_equal(no_input, out[2:])


@pytest.mark.parametrize("n_bands,include_input,shape", [(10, True, (4, 3, 2)), (4, False, (6, 3)), (0, True, (2, 5)),
                                                         (10, True, (0, 2))])
def test_extension_equals_fallback_bitwise(n_bands, include_input, shape):
    ext = load_extension("freq_encode")
    if ext is None:
        pytest.skip("motionseg_trt._C_freq_encode not built")
    x = _random(shape)
    got = ext.encode(x, n_bands, include_input)
    ref = freq_encode_numpy(x, n_bands, include_input)
    assert got.shape == ref.shape == (*shape[:-1], output_width(shape[-1], n_bands, include_input))
    np.testing.assert_array_equal(got, ref)
    x64 = x.astype(np.float64) * 37.0
    np.testing.assert_array_equal(ext.encode(x64, n_bands, include_input), freq_encode_numpy(x64, n_bands, include_input))


def test_fallback_when_extension_disabled(monkeypatch):
    import motionseg_trt.ops._ext as ext_mod
    from motionseg_trt.ops import freq_encode

    x = _random()
    with_ext = freq_encode(x)
    monkeypatch.setenv("MOTIONSEG_NO_EXT", "1")
    monkeypatch.setattr(ext_mod, "_cache", {})
    np.testing.assert_array_equal(freq_encode(x), with_ext)


def test_torch_inputs_same_numbers_and_gradients():
    from motionseg_trt.ops import freq_encode

    x = _random()
    ref = freq_encode_numpy(x)
    out = freq_encode(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), ref)
    xt = torch.from_numpy(x).requires_grad_()
    y = freq_encode(xt)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    y.sum().backward()
    assert xt.grad is not None and torch.isfinite(xt.grad).all()


def test_cuda_kernel_compiled_flag():
    ext = load_extension("freq_encode")
    if ext is None:
        pytest.skip("motionseg_trt._C_freq_encode not built")
    assert isinstance(ext.with_cuda, bool)
    if not torch.cuda.is_available():
        return  # the kernel is compiled when nvcc is present, but it can only run on a GPU
    from motionseg_trt.ops import freq_encode

    x = _random((64, 24, 2))
    np.testing.assert_allclose(freq_encode(torch.from_numpy(x).cuda()).cpu().numpy(), freq_encode_numpy(x),
                               rtol=0, atol=1.2e-7)


def test_the_graphs_encoding_is_held_to_the_reference_op():
    """The classifier graph encodes in float32 (what TensorRT fuses); the op is exact (float64, rounded
    once): they agree to an ulp or two over the range of normalised tracks and differences (2**k x is
    exact in float32, so only sin / cos round)."""
    from motionseg_trt.motion.classifier.features import freq_encode_torch
    from motionseg_trt.ops import freq_encode

    x = np.random.default_rng(3).uniform(-1, 1, (64, 24, 2)).astype(np.float32)
    ref = freq_encode(x)
    got = freq_encode_torch(torch.from_numpy(x)).numpy()
    assert got.shape == ref.shape == (64, 24, 42)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2.4e-7)
