"""Bilinear / trilinear sampling by gathers, for graphs that TensorRT can take.

``F.grid_sample`` on 5-D inputs (trilinear) has no TensorRT equivalent and its 4-D form is a plugin-ish
layer with its own quirks; a sampler written as index arithmetic + ``Gather`` exports to plain ONNX
ops (Floor, Clip, Gather, Mul, Add) that every runtime runs. The functions here reproduce
``F.grid_sample(mode="bilinear")`` for ``padding_mode`` ``"zeros"`` and ``"border"`` and both
``align_corners`` settings; ``tests/test_sampling.py`` checks them against PyTorch.

Two layers:

* :func:`bilinear_sample` / :func:`trilinear_sample` take the same arguments as ``F.grid_sample``
  (channels-first input, normalised grid in [-1, 1]);
* :func:`gather_bilinear_nhwc` / :func:`gather_trilinear_nhwc` work on channels-last feature grids
  with *index* coordinates (pixel centre ``i`` at ``i``), which is what the tracker uses internally:
  one ``Gather`` of feature rows per corner, no expanded index tensors. The trilinear one is the
  per-frame reformulation of 3-D sampling: two 2-D samples on frames ``floor(t)`` and ``floor(t)+1``,
  blended along time.

Coordinates are computed in float32 even when the features are float16, so that an fp16 engine
samples at the same positions.
"""
from __future__ import annotations

import torch

_PADDING = ("zeros", "border")


def _unnormalize(coord: torch.Tensor, size: int, align_corners: bool) -> torch.Tensor:
    """Normalised [-1, 1] -> index coordinate, as grid_sample does it."""
    if align_corners:
        return (coord + 1.0) * 0.5 * (size - 1)
    return ((coord + 1.0) * size - 1.0) * 0.5


def _axis_corners(coord: torch.Tensor, size, padding_mode: str):
    """The two neighbouring integer positions of ``coord`` along one axis and their weights.

    Returns ``(i0, i1, w0, w1)``: int64 indices clamped into range (so the gather is always legal) and
    float32 weights that are zero for a neighbour outside the grid under zero padding.
    ``size`` may be a Python int or a symbolic size (dynamic shape in an exported graph).
    """
    if padding_mode == "border":
        coord = torch.clamp(coord, min=0.0)
        coord = torch.minimum(coord, _as_float(size, coord) - 1.0)
    c0 = torch.floor(coord)
    w1 = coord - c0
    w0 = 1.0 - w1
    i0 = c0.to(torch.int64)
    i1 = i0 + 1
    last = _as_int(size, i0) - 1
    if padding_mode == "zeros":
        w0 = w0 * ((i0 >= 0) & (i0 <= last)).to(w0.dtype)
        w1 = w1 * ((i1 >= 0) & (i1 <= last)).to(w1.dtype)
    i0 = torch.minimum(torch.clamp(i0, min=0), last)
    i1 = torch.minimum(torch.clamp(i1, min=0), last)
    return i0, i1, w0, w1


def _as_float(size, like: torch.Tensor) -> torch.Tensor:
    # A product with a 0-d tensor keeps a symbolic (exported, dynamic) size symbolic.
    return torch.ones((), dtype=like.dtype, device=like.device) * size


def _as_int(size, like: torch.Tensor) -> torch.Tensor:
    return torch.ones((), dtype=torch.int64, device=like.device) * size


def _check_padding(padding_mode: str) -> None:
    if padding_mode not in _PADDING:
        raise ValueError(f"padding_mode must be one of {_PADDING}, got {padding_mode!r}")


def gather_bilinear_nhwc(feats: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                         padding_mode: str = "zeros", frame: torch.Tensor | None = None) -> torch.Tensor:
    """Bilinear samples of a channels-last grid stack at index coordinates.

    feats: ``[F, H, W, C]``; x, y: ``[...]`` float index coordinates (pixel centre ``i`` at ``i``);
    frame: ``[...]`` int64 index into ``F`` for every point (default: all from frame 0).
    Returns ``[..., C]``.
    """
    _check_padding(padding_mode)
    nf, h, w, c = feats.shape
    table = feats.reshape(-1, c)
    x = x.float()
    y = y.float()
    x0, x1, wx0, wx1 = _axis_corners(x, w, padding_mode)
    y0, y1, wy0, wy1 = _axis_corners(y, h, padding_mode)
    base = 0 if frame is None else frame.to(torch.int64) * (h * w)
    out = None
    for yi, wy in ((y0, wy0), (y1, wy1)):
        for xi, wx in ((x0, wx0), (x1, wx1)):
            rows = torch.index_select(table, 0, (base + yi * w + xi).reshape(-1)).reshape(*x.shape, c)
            term = rows * (wy * wx).to(feats.dtype).unsqueeze(-1)
            out = term if out is None else out + term
    return out


def gather_trilinear_nhwc(feats: torch.Tensor, t: torch.Tensor, y: torch.Tensor, x: torch.Tensor,
                          padding_mode: str = "border") -> torch.Tensor:
    """Trilinear samples of a ``[T, H, W, C]`` feature volume at index coordinates (t, y, x).

    The per-frame form of 5-D ``grid_sample``: bilinear on frame ``floor(t)`` and on ``floor(t) + 1``,
    blended with the fractional part of ``t``. Returns ``[..., C]``.
    """
    _check_padding(padding_mode)
    nt = feats.shape[0]
    t0, t1, wt0, wt1 = _axis_corners(t.float(), nt, padding_mode)
    s0 = gather_bilinear_nhwc(feats, x, y, padding_mode, frame=t0)
    s1 = gather_bilinear_nhwc(feats, x, y, padding_mode, frame=t1)
    return s0 * wt0.to(feats.dtype).unsqueeze(-1) + s1 * wt1.to(feats.dtype).unsqueeze(-1)


def bilinear_sample(input: torch.Tensor, grid: torch.Tensor, *, align_corners: bool = False,
                    padding_mode: str = "zeros") -> torch.Tensor:
    """Drop-in for ``F.grid_sample(input, grid, mode="bilinear")`` on 4-D inputs, by gathers.

    input: ``[B, C, H, W]``; grid: ``[B, Ho, Wo, 2]`` normalised (x, y). Returns ``[B, C, Ho, Wo]``.
    """
    if input.dim() != 4 or grid.dim() != 4 or grid.shape[-1] != 2:
        raise ValueError("bilinear_sample takes input [B,C,H,W] and grid [B,Ho,Wo,2]")
    b, c, h, w = input.shape
    ix = _unnormalize(grid[..., 0].float(), w, align_corners)
    iy = _unnormalize(grid[..., 1].float(), h, align_corners)
    frame = torch.arange(b, device=input.device).view(b, 1, 1).expand_as(ix)
    out = gather_bilinear_nhwc(input.permute(0, 2, 3, 1), ix, iy, padding_mode, frame=frame)
    return out.permute(0, 3, 1, 2)


def trilinear_sample(input: torch.Tensor, grid: torch.Tensor, *, align_corners: bool = False,
                     padding_mode: str = "zeros") -> torch.Tensor:
    """``F.grid_sample`` on 5-D inputs (trilinear) rewritten as per-frame 4-D gathers.

    input: ``[B, C, D, H, W]``; grid: ``[B, Do, Ho, Wo, 3]`` normalised (x, y, z).
    Returns ``[B, C, Do, Ho, Wo]``.
    """
    if input.dim() != 5 or grid.dim() != 5 or grid.shape[-1] != 3:
        raise ValueError("trilinear_sample takes input [B,C,D,H,W] and grid [B,Do,Ho,Wo,3]")
    b, c, d, h, w = input.shape
    ix = _unnormalize(grid[..., 0].float(), w, align_corners)
    iy = _unnormalize(grid[..., 1].float(), h, align_corners)
    iz = _unnormalize(grid[..., 2].float(), d, align_corners)
    # Fold the batch into the frame axis: frame index = b * D + z.
    vol = input.permute(0, 2, 3, 4, 1).reshape(b * d, h, w, c)
    z0, z1, wz0, wz1 = _axis_corners(iz, d, padding_mode)
    boff = torch.arange(b, device=input.device).view(b, 1, 1, 1) * d
    s0 = gather_bilinear_nhwc(vol, ix, iy, padding_mode, frame=boff + z0)
    s1 = gather_bilinear_nhwc(vol, ix, iy, padding_mode, frame=boff + z1)
    out = s0 * wz0.to(input.dtype).unsqueeze(-1) + s1 * wz1.to(input.dtype).unsqueeze(-1)
    return out.permute(0, 4, 1, 2, 3)


def bilinear_patch_dot(feats: torch.Tensor, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor,
                       radius: int, frame: torch.Tensor | None = None) -> torch.Tensor:
    """Dot products of ``target`` with bilinear samples on a (2r+1)^2 patch, zero padding.

    Equals ``gather_bilinear_nhwc(feats, x + dx, y + dy, "zeros", frame) . target`` for the integer
    offsets ``dx, dy`` in ``-r..r`` (rows: dy outer, dx inner), computed the cheap way: integer offsets
    share the fractional weights, so one ``(2r+2)^2`` patch of feature rows is gathered, dotted with
    ``target`` (a MatMul), and the bilinear blend is done on the scalar products (it is linear).

    feats ``[F, H, W, C]``; x, y, frame ``[...]``; target ``[..., C]``. Returns ``[..., (2r+1)^2]``.
    """
    nf, h, w, c = feats.shape
    table = feats.reshape(-1, c)
    x = x.float()
    y = y.float()
    x0 = torch.floor(x)
    y0 = torch.floor(y)
    fx = (x - x0).unsqueeze(-1).unsqueeze(-1)
    fy = (y - y0).unsqueeze(-1).unsqueeze(-1)
    steps = torch.arange(-radius, radius + 2, device=feats.device)
    ix = x0.to(torch.int64).unsqueeze(-1) + steps  # [..., P]
    iy = y0.to(torch.int64).unsqueeze(-1) + steps
    last_x = _as_int(w, ix) - 1
    last_y = _as_int(h, iy) - 1
    valid = (((iy >= 0) & (iy <= last_y)).unsqueeze(-1) & ((ix >= 0) & (ix <= last_x)).unsqueeze(-2))
    ixc = torch.minimum(torch.clamp(ix, min=0), last_x)
    iyc = torch.minimum(torch.clamp(iy, min=0), last_y)
    base = 0 if frame is None else (frame.to(torch.int64) * (h * w)).unsqueeze(-1).unsqueeze(-1)
    idx = base + iyc.unsqueeze(-1) * w + ixc.unsqueeze(-2)  # [..., P, P]
    p = 2 * radius + 2
    rows = torch.index_select(table, 0, idx.reshape(-1)).reshape(*x.shape, p * p, c)
    dots = torch.matmul(rows, target.unsqueeze(-1).to(rows.dtype)).reshape(*x.shape, p, p)
    dots = dots * valid.to(dots.dtype)
    fx = fx.to(dots.dtype)
    fy = fy.to(dots.dtype)
    top = dots[..., :-1, :-1] * (1 - fx) + dots[..., :-1, 1:] * fx
    bottom = dots[..., 1:, :-1] * (1 - fx) + dots[..., 1:, 1:] * fx
    out = top * (1 - fy) + bottom * fy
    return out.reshape(*x.shape, (p - 1) * (p - 1))
