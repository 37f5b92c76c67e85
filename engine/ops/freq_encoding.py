"""NeRF-style frequency encoding of the trajectory classifier, official channel order.

``freq_encode(x, n_bands=10, include_input=True)`` maps ``[..., D]`` to ``[..., D*(include_input + 2K)]``::

    [x, sin(f_0 x), cos(f_0 x), sin(f_1 x), cos(f_1 x), ..., cos(f_{K-1} x)],   f_k = 2**k (no pi)

where each sin/cos block holds the D channels in order (for D = 2: sin(f a), sin(f b), cos(f a),
cos(f b)).

Numbers: every value is computed in float64 and rounded once to the output dtype, in all three
implementations (the C++ extension ``motionseg_trt._C_freq_encode``, its CUDA kernel, and the
NumPy/PyTorch fallback here), so they agree bit for bit in practice. The official code (and the
model graph, ``motion.classifier.features.freq_encode_torch``) evaluates sin/cos in float32; the two
differ by at most an ulp or two.

Accepts NumPy arrays (-> NumPy) and torch tensors (-> torch, same device). float16/32 inputs give
float32 output, float64 gives float64.

Why no stage calls it: the classifier computes this encoding inside its exported graph
(``freq_encode_torch``), where ONNX Runtime and TensorRT fuse it with the first layer on the device.
Encoding on the host instead would send 44x the bytes per track and frame into the graph (88 channels
for 2 coordinates) and change its numbers by an ulp, so the masks would no longer match the PyTorch
reference bit for bit. This op is the encoding's reference implementation (exact, float64 once): the
tests hold the graph's encoding and the official fixture to it, and it is the C++/CUDA kernel the
design card asks for, ready for a host-side pipeline that needs the features themselves.
"""
from __future__ import annotations

import numpy as np

from ._ext import load_extension


def output_width(d: int, n_bands: int = 10, include_input: bool = True) -> int:
    return d * (int(include_input) + 2 * n_bands)


def freq_encode(x, n_bands: int = 10, include_input: bool = True):
    if n_bands < 0:
        raise ValueError("n_bands must be >= 0")
    if _is_torch(x):
        return _encode_torch(x, n_bands, include_input)
    arr = np.asarray(x)
    if arr.ndim < 1:
        raise ValueError("freq_encode needs at least one axis (the encoded one)")
    out_dtype = np.float64 if arr.dtype == np.float64 else np.float32
    arr = np.ascontiguousarray(arr, dtype=out_dtype)
    ext = load_extension("freq_encode")
    if ext is not None:
        return ext.encode(arr, int(n_bands), bool(include_input))
    return freq_encode_numpy(arr, n_bands, include_input)


def freq_encode_numpy(x: np.ndarray, n_bands: int = 10, include_input: bool = True) -> np.ndarray:
    """The pure-NumPy implementation (what runs when the extension is not built)."""
    x = np.asarray(x)
    out_dtype = np.float64 if x.dtype == np.float64 else np.float32
    x64 = x.astype(np.float64)
    scaled = x64[..., None, :] * np.ldexp(1.0, np.arange(n_bands))[:, None]  # [..., K, D], exact
    enc = np.stack((np.sin(scaled), np.cos(scaled)), axis=-2).reshape(*x.shape[:-1], 2 * n_bands * x.shape[-1])
    if include_input:
        enc = np.concatenate((x64, enc), axis=-1)
    return enc.astype(out_dtype)


def _is_torch(x) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch")


def _encode_torch(x, n_bands: int, include_input: bool):
    import torch

    out_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    ext = load_extension("freq_encode")
    if x.is_cuda and ext is not None and getattr(ext, "with_cuda", False) and out_dtype == torch.float32:
        src = x.detach().to(torch.float32).contiguous()
        d = src.shape[-1]
        out = torch.empty(*src.shape[:-1], output_width(d, n_bands, include_input), dtype=torch.float32,
                          device=src.device)
        with torch.cuda.device(src.device):
            stream = torch.cuda.current_stream().cuda_stream
        ext.encode_cuda(src.data_ptr(), out.data_ptr(), src.numel() // max(d, 1), d, int(n_bands),
                        bool(include_input), stream)
        return out
    if x.device.type == "cpu" and ext is not None and not x.requires_grad:
        src = x.detach().to(out_dtype).contiguous().numpy()
        return torch.from_numpy(ext.encode(src, int(n_bands), bool(include_input)))
    # differentiable / other devices: the same float64-then-round arithmetic in torch
    x64 = x.to(torch.float64)
    freqs = (2.0 ** torch.arange(n_bands, dtype=torch.float64, device=x.device)).unsqueeze(-1)  # exact
    scaled = x64.unsqueeze(-2) * freqs
    enc = torch.stack((torch.sin(scaled), torch.cos(scaled)), dim=-2).flatten(-3)
    if include_input:
        enc = torch.cat((x64, enc), dim=-1)
    return enc.to(out_dtype)
