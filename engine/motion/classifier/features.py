"""The per-(track, frame) feature of the trajectory classifier, in exportable PyTorch.

Layout, channel-last ``[B, N, T, C]`` (the official code is channel-first ``[1, C, N, T]``; the order of
the channels is the same)::

    0..41   PE(x_n, y_n)        frequency embedding of the normalised position
    42..83  PE(dx, dy)          frequency embedding of the forward difference, gated by the next frame
    84      s                   sampled depth                       (only when depth is used)
    85      ds                  forward difference of s, gated      (only when depth is used)
    86      visib_value                                              (only with visibility/confidence)
    87      confi_value                                              (only with visibility/confidence)

Everything here is plain tensor arithmetic (mul, sin, cos, slice, concat) so that it exports to ONNX
with dynamic N and T and fuses in TensorRT. The NumPy / C++ version of the embedding lives in
:mod:`motionseg_trt.ops.freq_encoding` (``motionseg_trt.ops.freq_encode``); same channel order.
"""
from __future__ import annotations

from typing import Optional

import torch


def freq_encode_torch(x: torch.Tensor, n_bands: int = 10, include_input: bool = True) -> torch.Tensor:
    """NeRF-style embedding of the last axis (official order, bands 2**k, no factor pi).

    For an input ``[..., D]`` the output is ``[..., D*(include_input + 2*n_bands)]``:
    ``[x, sin(f0 x), cos(f0 x), sin(f1 x), cos(f1 x), ...]`` where each sin/cos block holds the D
    input channels in order (for D=2: sin(f a), sin(f b), cos(f a), cos(f b)).
    """
    # f_k * x is exact in float32 (power-of-two scale), so one broadcast multiply equals the official
    # per-band loop bit for bit.
    freqs = (2.0 ** torch.arange(n_bands, dtype=x.dtype, device=x.device)).unsqueeze(-1)  # [K, 1]
    scaled = x.unsqueeze(-2) * freqs  # [..., K, D]
    enc = torch.stack((torch.sin(scaled), torch.cos(scaled)), dim=-2)  # [..., K, 2, D]
    enc = enc.flatten(-3)  # [..., K*2*D]
    return torch.cat((x, enc), dim=-1) if include_input else enc


def gated_forward_difference(v: torch.Tensor, visible_next: torch.Tensor) -> torch.Tensor:
    """``d[..., t] = (v[..., t+1] - v[..., t]) * visible[..., t+1]`` for t < T-1 and 0 at t = T-1.

    ``v`` is ``[B, N, T]`` or ``[B, N, T, D]``; ``visible_next`` is the float visibility ``[B, N, T]``
    (``1 - mask``). Only the *later* frame's visibility gates the difference (official behaviour).
    """
    if v.dim() == visible_next.dim() + 1:
        visible_next = visible_next.unsqueeze(-1)
    # Shift by one frame with a gather (the last frame pairs with itself, weight 0) rather than slicing
    # T-1 long views: same numbers, and torch.export keeps T symbolic (slices put guards on T-1).
    t_len = v.shape[2]
    frames = torch.arange(t_len, device=v.device)
    nxt_idx = torch.clamp(frames + 1, max=t_len - 1)
    nxt = v.index_select(2, nxt_idx)
    not_last = (frames < t_len - 1).to(v.dtype)
    gate = visible_next.index_select(2, nxt_idx) * (not_last[:, None] if v.dim() == 4 else not_last)
    return (nxt - v) * gate


def build_track_features(traj: torch.Tensor, mask: torch.Tensor, depth: Optional[torch.Tensor] = None,
                         visib_value: Optional[torch.Tensor] = None,
                         confi_value: Optional[torch.Tensor] = None, n_bands: int = 10) -> torch.Tensor:
    """Assemble the per-frame feature ``[B, N, T, C]`` (C = 88 for the official configuration).

    traj: ``[B, N, T, 2]`` normalised (x, y) in [-1, 1]; mask: ``[B, N, T]`` float, 1 = not visible;
    depth: ``[B, N, T]`` depth already sampled at the tracks (see ``preprocess.sample_depth``) or None;
    visib_value / confi_value: ``[B, N, T]`` or None (both or neither).
    """
    visible = 1.0 - mask
    parts = [freq_encode_torch(traj, n_bands),
             freq_encode_torch(gated_forward_difference(traj, visible), n_bands)]
    if depth is not None:
        parts += [depth.unsqueeze(-1), gated_forward_difference(depth, visible).unsqueeze(-1)]
    if (visib_value is None) != (confi_value is None):
        raise ValueError("visib_value and confi_value go together: give both or neither")
    if visib_value is not None:
        parts += [visib_value.unsqueeze(-1), confi_value.unsqueeze(-1)]
    return torch.cat(parts, dim=-1)


def feature_channels(n_bands: int = 10, use_depth: bool = True, use_visibility_confidence: bool = True) -> int:
    per_pair = 2 * (1 + 2 * n_bands)
    return 2 * per_pair + (2 if use_depth else 0) + (2 if use_visibility_confidence else 0)
