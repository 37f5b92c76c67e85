"""The BootsTAPIR network (TAPIR with ``pyramid_level=1``), written for export.

Module names and parameter shapes follow the public PyTorch TAPIR (google-deepmind/tapnet,
``tapnet/torch``) exactly, so that ``bootstapir_checkpoint_v2.pt`` loads with ``strict=True``:
``resnet_torch.*``, ``extra_convs.*``, ``torch_cost_volume_track_mods.{hid1..hid4,occ_out}`` and
``torch_pips_mixer.*`` (218 tensors, 54,699,335 values, no buffers).

The computation is the same; its *form* is changed where the original does not export well:

* query features come from :func:`~motionseg_trt.ops.sampling.gather_trilinear_nhwc` (per-frame
  gathers) instead of a 5-D ``grid_sample``; the PIPs correlations from
  :func:`~motionseg_trt.ops.sampling.bilinear_patch_dot` (one 8x8 gather of feature rows, a MatMul,
  and the bilinear blend on the products) instead of a 4-D ``grid_sample`` of 7x7 neighbourhoods
  followed by a dot product: the same numbers up to rounding, ~4x less memory traffic;
* the network is split in two graphs: :meth:`TAPIR.extract_features` (per frame, any number of frames)
  and :meth:`TAPIR.track` (one chunk of queries against a clip's feature grids). Queries never interact,
  so a fixed chunk size with padding gives the same numbers as the original's chunks of 64;
* no random permutation of the queries (the original shuffles chunks, which does not change results).

Everything runs at the training resolution 256x256 (``initial_resolution``): a 256x256 input has one
refinement resolution, the same as the initial one, so the original's second feature build is the
first one reused. Frames are ``[F, H, W, 3]`` in ``[-1, 1]``; points are in pixels of the 256x256 frame
in the original's raster convention, where pixel ``i`` covers ``[i, i + 1)`` (a query ``(t, y, x)``
samples a feature grid of height ``h`` at index ``y * h / 256 - 0.5``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...ops.sampling import bilinear_patch_dot, gather_trilinear_nhwc

HIRES_DIM = 128
LOWRES_DIM = 256
PATCH_RADIUS = 3  # PIPs samples a 7x7 neighbourhood
SOFT_ARGMAX_RADIUS = 5  # cells around the hard argmax that the soft-argmax averages over


# ----------------------------------------------------------------------------------------------------
# Feature extractor: a pre-activation ResNet (no max-pool) plus five "extra" conv blocks on lowres.
# ----------------------------------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    """Pre-activation (v2) block. Padding reproduces JAX's "SAME" for stride 2: (0, 2, 0, 2)."""

    def __init__(self, channels_in: int, channels_out: int, stride: int, use_projection: bool):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.padding = (1, 1, 1, 1) if stride == 1 else (0, 2, 0, 2)
        if use_projection:
            self.proj_conv = nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False)
        else:
            self.proj_conv = None
        self.bn_0 = nn.InstanceNorm2d(channels_in, eps=1e-5, affine=True, track_running_stats=False)
        self.conv_0 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=0, bias=False)
        self.conv_1 = nn.Conv2d(channels_out, channels_out, 3, stride=1, padding=1, bias=False)
        self.bn_1 = nn.InstanceNorm2d(channels_out, eps=1e-5, affine=True, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = torch.relu(self.bn_0(x))
        # the projection shortcut takes the *activated* input (as in the original)
        shortcut = self.proj_conv(act) if self.proj_conv is not None else x
        h = self.conv_0(F.pad(act, self.padding))
        h = self.conv_1(torch.relu(self.bn_1(h)))
        return h + shortcut


class BlockGroup(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, num_blocks: int, stride: int,
                 use_projection: bool):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResidualBlock(channels_in if i == 0 else channels_out, channels_out,
                          stride if i == 0 else 1, use_projection and i == 0)
            for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class ResNet(nn.Module):
    """Returns the outputs of group 1 (hires, stride 4) and group 3 (lowres, stride 8), NCHW."""

    def __init__(self, blocks_per_group: Sequence[int] = (2, 2, 2, 2),
                 channels_per_group: Sequence[int] = (64, HIRES_DIM, 256, LOWRES_DIM),
                 strides: Sequence[int] = (1, 2, 2, 1)):
        super().__init__()
        self.initial_conv = nn.Conv2d(3, channels_per_group[0], 7, stride=2, padding=0, bias=False)
        chans_in = [channels_per_group[0]] + list(channels_per_group[:-1])
        self.block_groups = nn.ModuleList(
            BlockGroup(cin, cout, n, s, True)
            for cin, cout, n, s in zip(chans_in, channels_per_group, blocks_per_group, strides))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.initial_conv(F.pad(x, (2, 4, 2, 4)))  # JAX "SAME" for a 7x7 stride-2 conv
        hires = None
        for i, group in enumerate(self.block_groups):
            x = group(x)
            if i == 1:
                hires = x
        return hires, x


class ExtraConvBlock(nn.Module):
    def __init__(self, channels: int = LOWRES_DIM, multiplier: int = 4):
        super().__init__()
        self.layer_norm = nn.LayerNorm(channels, eps=1e-5, elementwise_affine=True, bias=True)
        self.conv = nn.Conv2d(channels, channels * multiplier, 3, padding=1)
        self.conv_1 = nn.Conv2d(channels * multiplier, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # NCHW
        x = self.layer_norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        # the residual is added to the normalised tensor, not to the block input (as in the original)
        return x + self.conv_1(F.gelu(self.conv(x), approximate="tanh"))


class ExtraConvs(nn.Module):
    def __init__(self, num_layers: int = 5, channels: int = LOWRES_DIM, multiplier: int = 4):
        super().__init__()
        self.blocks = nn.ModuleList(ExtraConvBlock(channels, multiplier) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


# ----------------------------------------------------------------------------------------------------
# PIPs refinement: a depthwise-conv MLP-Mixer over time, one sequence per query point.
# ----------------------------------------------------------------------------------------------------
class ConvChannelsMixer(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.mlp2_up = nn.Linear(channels, channels * 4)
        self.mlp2_down = nn.Linear(channels * 4, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp2_down(F.gelu(self.mlp2_up(x), approximate="tanh"))


class MixerBlock(nn.Module):
    """Temporal depthwise convs (x4 channels, summed back in groups of 4) then a channel MLP."""

    def __init__(self, channels: int, kernel: int = 3):
        super().__init__()
        self.layer_norm = nn.LayerNorm(channels, eps=1e-5, elementwise_affine=True, bias=False)
        self.mlp1_up = nn.Conv1d(channels, channels * 4, kernel, padding=kernel // 2, groups=channels)
        self.mlp1_up_1 = nn.Conv1d(channels * 4, channels * 4, kernel, padding=kernel // 2,
                                   groups=channels * 4)
        self.layer_norm_1 = nn.LayerNorm(channels, eps=1e-5, elementwise_affine=True, bias=False)
        self.conv_channels_mixer = ConvChannelsMixer(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        b, t, c = x.shape
        h = self.layer_norm(x).transpose(1, 2)
        h = self.mlp1_up_1(F.gelu(self.mlp1_up(h), approximate="tanh")).transpose(1, 2)
        # output channel k sums the four expansions 4k..4k+3 (the original's x[..., i::4] sum)
        x = x + h.reshape(b, t, c, 4).sum(-1)
        return x + self.conv_channels_mixer(self.layer_norm_1(x))


class PipsMixer(nn.Module):
    def __init__(self, input_channels: int, output_channels: int, hidden: int = 512,
                 num_blocks: int = 12, kernel: int = 3):
        super().__init__()
        self.linear = nn.Linear(input_channels, hidden)
        self.blocks = nn.ModuleList(MixerBlock(hidden, kernel) for _ in range(num_blocks))
        self.layer_norm = nn.LayerNorm(hidden, eps=1e-5, elementwise_affine=True, bias=False)
        self.linear_1 = nn.Linear(hidden, output_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        for block in self.blocks:
            x = block(x)
        return self.linear_1(self.layer_norm(x))


def _l2_normalise(x: torch.Tensor) -> torch.Tensor:
    """Unit vectors along dim 1 (channels of an NCHW map): x / sqrt(max(|x|^2, 1e-12))."""
    return x / torch.sqrt(torch.clamp(torch.sum(x * x, dim=1, keepdim=True), min=1e-12))


# ----------------------------------------------------------------------------------------------------
# TAPIR
# ----------------------------------------------------------------------------------------------------
class TAPIR(nn.Module):
    """BootsTAPIR as SegAnyMo builds it: ``TAPIR(pyramid_level=1)``, other arguments at their defaults."""

    def __init__(self, num_pips_iter: int = 4, pyramid_level: int = 1, mixer_hidden_dim: int = 512,
                 num_mixer_blocks: int = 12, mixer_kernel_shape: int = 3,
                 softmax_temperature: float = 20.0, initial_resolution: tuple[int, int] = (256, 256),
                 blocks_per_group: Sequence[int] = (2, 2, 2, 2), extra_convs: bool = True):
        super().__init__()
        self.num_pips_iter = num_pips_iter
        self.pyramid_level = pyramid_level
        self.softmax_temperature = softmax_temperature
        self.initial_resolution = tuple(initial_resolution)
        self.resnet_torch = ResNet(blocks_per_group)
        self.torch_cost_volume_track_mods = nn.ModuleDict({
            "hid1": nn.Conv2d(1, 16, 3, 1, 1),
            "hid2": nn.Conv2d(16, 1, 3, 1, 1),
            "hid3": nn.Conv2d(16, 32, 3, 2, 0),
            "hid4": nn.Linear(32, 16),
            "occ_out": nn.Linear(16, 2),
        })
        dim = 4 + HIRES_DIM + LOWRES_DIM
        self.torch_pips_mixer = PipsMixer(dim + (pyramid_level + 2) * (2 * PATCH_RADIUS + 1) ** 2, dim,
                                          mixer_hidden_dim, num_mixer_blocks, mixer_kernel_shape)
        self.extra_convs = ExtraConvs() if extra_convs else None

    # -- graph 1: per-frame features ----------------------------------------------------------------
    def extract_features(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames ``[F, H, W, 3]`` in [-1, 1] -> unit-norm ``hires [F, H/4, W/4, 128]`` and
        ``lowres [F, H/8, W/8, 256]`` (channels-last, as the tracking graph gathers rows of them)."""
        x = frames.permute(0, 3, 1, 2)
        hires, lowres = self.resnet_torch(x)
        if self.extra_convs is not None:
            lowres = self.extra_convs(lowres)
        return (_l2_normalise(hires).permute(0, 2, 3, 1), _l2_normalise(lowres).permute(0, 2, 3, 1))

    # -- graph 2: tracking one chunk of queries -----------------------------------------------------
    def track(self, hires: torch.Tensor, lowres: torch.Tensor, query_points: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Track ``query_points [N, 3]`` (t, y, x; pixels of the 256x256 frames) through a clip.

        hires ``[T, h4, w4, 128]``, lowres ``[T, h8, w8, 256]`` from :meth:`extract_features`.
        Returns tracks ``[N, T, 2]`` (x, y pixels), occlusion ``[N, T]`` and expected_dist ``[N, T]``
        logits after the last refinement iteration.
        """
        img_h, img_w = self.initial_resolution
        qt, qy, qx = query_points[:, 0], query_points[:, 1], query_points[:, 2]
        low_h, low_w = lowres.shape[1], lowres.shape[2]
        hi_h, hi_w = hires.shape[1], hires.shape[2]

        # Query features: trilinear with border padding, TAPIR samples at (t + 0.5, y * s, x * s)
        # in a grid with centres at i + 0.5, i.e. index (t, y * s - 0.5, x * s - 0.5).
        q_low = gather_trilinear_nhwc(lowres, qt, qy * (low_h / img_h) - 0.5, qx * (low_w / img_w) - 0.5,
                                      padding_mode="border")
        q_hi = gather_trilinear_nhwc(hires, qt, qy * (hi_h / img_h) - 0.5, qx * (hi_w / img_w) - 0.5,
                                     padding_mode="border")

        points, occ, expd = self._initial_estimate(q_low, lowres, query_points)

        pyramid = [hires, lowres]
        for _ in range(self.pyramid_level):
            prev = pyramid[-1]
            pyramid.append(F.avg_pool2d(prev.permute(0, 3, 1, 2), 2, 2).permute(0, 2, 3, 1))
        queries = [q_hi] + [q_low] * (self.pyramid_level + 1)

        feats = None
        for _ in range(self.num_pips_iter):
            points, occ, expd, feats = self._refine(queries, pyramid, points, occ, expd, feats)
        return points, occ, expd

    def forward(self, frames: torch.Tensor, query_points: torch.Tensor):
        """Whole-clip convenience: frames ``[T, H, W, 3]``, query_points ``[N, 3]``."""
        hires, lowres = self.extract_features(frames)
        return self.track(hires, lowres, query_points)

    # -- internals ----------------------------------------------------------------------------------
    def _initial_estimate(self, q_low: torch.Tensor, lowres: torch.Tensor, query_points: torch.Tensor):
        """Cost volume -> heatmap soft-argmax positions and occlusion / uncertainty logits."""
        mods = self.torch_cost_volume_track_mods
        t_len, h, w, c = lowres.shape
        n = q_low.shape[0]
        img_h, img_w = self.initial_resolution
        cost = torch.matmul(lowres.reshape(t_len, h * w, c), q_low.t())  # [T, hw, N]
        cost = cost.permute(0, 2, 1).reshape(t_len * n, 1, h, w)  # rows ordered (t, n)
        hid = torch.relu(mods["hid1"](cost))
        logits = mods["hid2"](hid).reshape(t_len, n, h * w)
        prob = torch.softmax(logits * self.softmax_temperature, dim=-1)

        xy = self._soft_argmax(prob.float(), h, w)  # [T, N, 2] in cells; positions stay float32
        xy = xy * torch.tensor([img_w / w, img_h / h], dtype=xy.dtype, device=xy.device)
        xy = xy.permute(1, 0, 2)  # [N, T, 2]
        # at its own frame a query is known exactly
        frame_idx = torch.arange(t_len, device=xy.device).to(xy.dtype)
        at_query = (torch.round(query_points[:, :1].float()) == frame_idx[None, :]).unsqueeze(-1)
        qxy = torch.stack([query_points[:, 2], query_points[:, 1]], -1).unsqueeze(1)
        xy = torch.where(at_query, qxy.to(xy.dtype), xy)

        o = torch.relu(mods["hid3"](F.pad(hid, (0, 2, 0, 2))))
        o = torch.relu(mods["hid4"](o.mean(dim=(2, 3))))
        o = mods["occ_out"](o).reshape(t_len, n, 2).permute(1, 0, 2)  # [N, T, 2]
        return xy, o[..., 0], o[..., 1]

    @staticmethod
    def _soft_argmax(prob: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Probability-weighted cell centre (i + 0.5) within radius 5 of the hard argmax: [..., 2] (x, y)."""
        ys = torch.arange(h, dtype=prob.dtype, device=prob.device) + 0.5
        xs = torch.arange(w, dtype=prob.dtype, device=prob.device) + 0.5
        cy = ys.view(h, 1).expand(h, w).reshape(-1)
        cx = xs.view(1, w).expand(h, w).reshape(-1)
        best = torch.argmax(prob, dim=-1, keepdim=True)  # [..., 1]
        bx = cx[best]
        by = cy[best]
        near = ((cx - bx) ** 2 + (cy - by) ** 2) < SOFT_ARGMAX_RADIUS ** 2
        wts = prob * near.to(prob.dtype)
        denom = torch.clamp(wts.sum(-1, keepdim=True), min=1e-12)
        return torch.stack([(wts * cx).sum(-1), (wts * cy).sum(-1)], -1) / denom

    def _refine(self, queries, pyramid, points, occ, expd, feats):
        """One PIPs iteration. ``feats`` is None in the first one (static query features are used)."""
        img_h, img_w = self.initial_resolution
        n, t_len, _ = points.shape
        frame = torch.arange(t_len, device=points.device).view(1, t_len).expand(n, t_len)
        corrs = []
        for level, (query, grid) in enumerate(zip(queries, pyramid)):
            gh, gw = grid.shape[1], grid.shape[2]
            if gh != gw:
                raise ValueError(f"PIPs refinement needs square feature grids (got {gh}x{gw}); "
                                 "the original normalises both axes by the height")
            # 7x7 integer offsets around the point, bilinear, zero padding; the original samples at
            # normalised 2 * p / h - 1 with align_corners=False, i.e. at index p - 0.5.
            px = points[..., 0] * (gw / img_w) - 0.5
            py = points[..., 1] * (gh / img_h) - 0.5
            if feats is None:
                target = query.unsqueeze(1).expand(n, t_len, query.shape[-1])
            else:
                target = feats[..., :HIRES_DIM] if level == 0 else feats[..., HIRES_DIM:]
            corrs.append(bilinear_patch_dot(grid, px, py, target, PATCH_RADIUS, frame=frame))  # [N, T, 49]
        if feats is None:
            feats = torch.cat([queries[0], queries[1]], -1).unsqueeze(1).expand(n, t_len, -1)
        mixer_in = torch.cat([torch.zeros_like(points).to(feats.dtype),  # position input is zeroed in the original
                              occ.unsqueeze(-1), expd.unsqueeze(-1), feats] + corrs, -1)
        res = self.torch_pips_mixer(mixer_in)
        # refinement runs at the initial resolution: the (resized / original) position scale is 1
        return points + res[..., :2], occ + res[..., 2], expd + res[..., 3], feats + res[..., 4:]


def build_bootstapir() -> TAPIR:
    """The network with the architecture of ``bootstapir_checkpoint_v2.pt`` (random init)."""
    return TAPIR(pyramid_level=1)
