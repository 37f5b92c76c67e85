"""The gather-based samplers against F.grid_sample (small random cases, incl. points out of range)."""
import pytest
import torch
import torch.nn.functional as F

from motionseg_trt.ops import bilinear_sample
from motionseg_trt.ops.sampling import gather_trilinear_nhwc, trilinear_sample


def _grid(gen, *shape):
    # normalised coordinates reaching well outside [-1, 1] so that both padding modes matter
    return torch.rand(*shape, generator=gen) * 3.0 - 1.5


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_bilinear_sample_matches_grid_sample(align_corners, padding_mode):
    gen = torch.Generator().manual_seed(0)
    inp = torch.randn(2, 5, 7, 9, generator=gen)
    grid = _grid(gen, 2, 6, 11, 2)
    # exact integer/edge positions too: the corners of the grid and the pixel centres
    grid[0, 0, :4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    ref = F.grid_sample(inp, grid, mode="bilinear", padding_mode=padding_mode, align_corners=align_corners)
    out = bilinear_sample(inp, grid, align_corners=align_corners, padding_mode=padding_mode)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # the test is not vacuous: the samples differ from a plain nearest lookup
    assert not torch.allclose(out, F.grid_sample(inp, grid, mode="nearest", padding_mode=padding_mode,
                                                  align_corners=align_corners))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_trilinear_per_frame_matches_5d_grid_sample(align_corners, padding_mode):
    gen = torch.Generator().manual_seed(1)
    inp = torch.randn(2, 4, 5, 6, 7, generator=gen)
    grid = _grid(gen, 2, 3, 4, 5, 3)
    ref = F.grid_sample(inp, grid, mode="bilinear", padding_mode=padding_mode, align_corners=align_corners)
    out = trilinear_sample(inp, grid, align_corners=align_corners, padding_mode=padding_mode)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_tapir_query_sampling_convention():
    """The tracker's channels-last index-coordinate form equals TAPIR's 5-D border sampling.

    TAPIR samples [T, h, w, C] at (t + 0.5, y * s, x * s), normalised by (T, h, w), align_corners
    False, border padding; in index coordinates that is (t, y * s - 0.5, x * s - 0.5).
    """
    gen = torch.Generator().manual_seed(2)
    t_len, h, w, c = 4, 8, 8, 6
    feats = torch.randn(t_len, h, w, c, generator=gen)
    n = 20
    t = torch.randint(0, t_len, (n,), generator=gen).float()
    t[:3] = torch.tensor([-0.7, 3.4, 1.25])  # fractional and out-of-range frames too
    yx = torch.rand(n, 2, generator=gen) * 300 - 20  # pixels of a 256 image, some outside
    s = h / 256.0
    coords = torch.stack([t + 0.5, yx[:, 0] * s, yx[:, 1] * s], -1)
    norm = 2 * coords / torch.tensor([t_len, h, w], dtype=torch.float32) - 1
    grid5 = norm.flip(-1).view(1, n, 1, 1, 3)
    ref = F.grid_sample(feats.permute(3, 0, 1, 2)[None], grid5, mode="bilinear", padding_mode="border",
                        align_corners=False)[0, :, :, 0, 0].T
    out = gather_trilinear_nhwc(feats, t, yx[:, 0] * s - 0.5, yx[:, 1] * s - 0.5, padding_mode="border")
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_bilinear_sample_rejects_bad_arguments():
    with pytest.raises(ValueError):
        bilinear_sample(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, 2), padding_mode="reflection")
    with pytest.raises(ValueError):
        bilinear_sample(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 2, 2, 2))


def test_patch_dot_equals_sampling_then_dot():
    """The tracker's fast PIPs correlation equals per-offset bilinear samples (zeros padding) dotted."""
    from motionseg_trt.ops.sampling import bilinear_patch_dot, gather_bilinear_nhwc

    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(3, 9, 9, 5, generator=gen)
    n, r = 7, 3
    x = torch.rand(3, n, generator=gen) * 14 - 3  # some patches hang over every border
    y = torch.rand(3, n, generator=gen) * 14 - 3
    frame = torch.arange(3).view(3, 1).expand(3, n)
    target = torch.randn(3, n, 5, generator=gen)
    out = bilinear_patch_dot(feats, x, y, target, r, frame=frame)
    off = torch.arange(-r, r + 1, dtype=torch.float32)
    dy, dx = torch.meshgrid(off, off, indexing="ij")
    xs = x.unsqueeze(-1) + dx.reshape(-1)
    ys = y.unsqueeze(-1) + dy.reshape(-1)
    samples = gather_bilinear_nhwc(feats, xs, ys, "zeros", frame=frame.unsqueeze(-1).expand_as(xs))
    ref = (samples * target.unsqueeze(-2)).sum(-1)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # the 4-D grid_sample view of one frame agrees too
    grid = torch.stack([(xs[0] + 0.5) / 9 * 2 - 1, (ys[0] + 0.5) / 9 * 2 - 1], -1).unsqueeze(0)
    ref0 = F.grid_sample(feats[0].permute(2, 0, 1)[None], grid, align_corners=False, padding_mode="zeros")
    ref0 = (ref0[0].permute(1, 2, 0) * target[0].unsqueeze(-2)).sum(-1)
    torch.testing.assert_close(out[0], ref0, atol=1e-5, rtol=1e-5)
