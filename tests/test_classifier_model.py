"""The network's behaviour beyond the fixture: batching, padding, variants, no NaN, training."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motionseg_trt.motion.classifier import modeling  # noqa: E402
from motionseg_trt.motion.classifier.modeling import ClassifierConfig, TrajectoryClassifier  # noqa: E402

SMALL = ClassifierConfig(head_dim=32, head_heads=4, head_ffn=64, head_enc_blocks=2, head_dec_blocks=2)


def _inputs(cfg, b, n, t, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = {"traj": torch.rand(b, n, t, 2, generator=g) * 2 - 1, "mask": (torch.rand(b, n, t, generator=g) > 0.7).float()}
    if cfg.use_depth:
        x["depth"] = torch.rand(b, n, t, generator=g)
    if cfg.use_visibility_confidence:
        x["visib_value"] = torch.rand(b, n, t, generator=g)
        x["confi_value"] = torch.rand(b, n, t, generator=g)
    if cfg.use_dino:
        x["dino"] = torch.randn(b, n, cfg.dino_dim, generator=g)
    return x


def _model(cfg=SMALL, seed=0):
    torch.manual_seed(seed)
    return TrajectoryClassifier(cfg).eval()


def test_batch_items_are_independent():
    model = _model()
    x = _inputs(SMALL, 3, 25, 6)
    with torch.no_grad():
        together = model(**x)
        apart = torch.cat([model(**{k: v[i:i + 1] for k, v in x.items()}) for i in range(3)])
    torch.testing.assert_close(together, apart, rtol=0, atol=1e-6)


def test_padding_tracks_do_not_change_real_ones():
    model = _model()
    x = _inputs(SMALL, 2, 20, 5)
    padded = {k: torch.cat([v, torch.rand(2, 7, *v.shape[2:])], 1) for k, v in x.items()}
    pad = torch.zeros(2, 27, dtype=torch.bool)
    pad[:, 20:] = True
    with torch.no_grad():
        torch.testing.assert_close(model(**padded, track_pad=pad)[:, :20], model(**x), rtol=0, atol=1e-6)


def test_permutation_equivariant_over_tracks():
    model = _model()
    x = _inputs(SMALL, 1, 30, 4)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(**x)
        out_p = model(**{k: v[:, perm] for k, v in x.items()})
    torch.testing.assert_close(out_p, out[:, perm], rtol=0, atol=1e-6)


def test_chunked_attention_gives_the_same_numbers(monkeypatch):
    model = _model()
    x = _inputs(SMALL, 1, 40, 6)
    with torch.no_grad(), modeling.attention_impl("math"):
        ref = model(**x)
        monkeypatch.setattr(modeling, "ATTENTION_CHUNK_ELEMENTS", 4 * 40 * 40)  # one frame per slice
        torch.testing.assert_close(model(**x), ref, rtol=0, atol=0)
    with torch.no_grad():  # the fused kernel computes the same function
        torch.testing.assert_close(model(**x), ref, rtol=0, atol=1e-5)


def test_attention_impl_is_restored():
    assert modeling._eager_impl == "sdpa"
    with modeling.attention_impl("math"):
        assert modeling._eager_impl == "math"
    assert modeling._eager_impl == "sdpa"
    with pytest.raises(ValueError):
        modeling.set_attention_impl("flash")


@pytest.mark.parametrize("impl", ["math", "sdpa"])
def test_no_nan_when_a_frame_has_no_visible_track(impl):
    model = _model()
    x = _inputs(SMALL, 1, 10, 4)
    x["mask"][:, :, 2] = 1.0  # nobody visible in frame 2 (the official code would NaN here)
    x["mask"][:, 3, :] = 1.0  # a track never visible (official fallback: its frame 0 counts)
    with torch.no_grad(), modeling.attention_impl(impl):
        assert torch.isfinite(model(**x)).all()


@pytest.mark.parametrize("cfg", [
    ClassifierConfig(use_dino=False, use_depth=False),
    ClassifierConfig(use_dino=True, dino_dim=384, use_depth=False),
    ClassifierConfig(use_dino=False, use_depth=False, use_visibility_confidence=False, head_dim=64, head_heads=4),
])
def test_variants_build_and_run(cfg):
    model = _model(cfg)
    assert model.joint_encoder.input_fc1.weight.shape[1] == cfg.in_channels
    assert model.decoder.encoders[0].ffn[0].weight.shape[1] == cfg.head_dim + (cfg.dino_dim if cfg.use_dino else 0)
    with torch.no_grad():
        out = model(**_inputs(cfg, 2, 12, 3))
    assert out.shape == (2, 12) and torch.isfinite(out).all()


def test_missing_or_extra_inputs_are_explained():
    model = _model(ClassifierConfig(use_dino=False, use_depth=False))
    x = _inputs(ClassifierConfig(), 1, 5, 3)
    with pytest.raises(ValueError, match="=False; do not pass"):
        model(**x)
    with pytest.raises(ValueError, match="needs `visib_value`"):
        model(traj=x["traj"], mask=x["mask"])


def test_trains():
    cfg = ClassifierConfig(use_dino=False, use_depth=False, head_dim=32, head_heads=4, head_ffn=64,
                           head_enc_blocks=1, head_dec_blocks=1, dropout=0.0)
    model = _model(cfg).train()
    x = _inputs(cfg, 2, 16, 5)
    target = (x["traj"][..., 0].mean(-1) > 0).float()  # learnable from the inputs
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_features_layout():
    from motionseg_trt.motion.classifier.features import build_track_features

    traj = torch.tensor([[[[0.5, -0.5], [0.25, 0.0], [1.0, 1.0]]]])  # [1, 1, 3, 2]
    mask = torch.tensor([[[0.0, 1.0, 0.0]]])
    depth = torch.tensor([[[0.1, 0.4, 0.9]]])
    f = build_track_features(traj, mask, depth, depth * 0 + 0.7, depth * 0 + 0.3)
    assert f.shape == (1, 1, 3, 88)
    np.testing.assert_allclose(f[0, 0, :, 42:44].numpy(), [[0, 0], [0.75, 1.0], [0, 0]])  # gated by next frame
    np.testing.assert_allclose(f[0, 0, :, 84].numpy(), [0.1, 0.4, 0.9])
    np.testing.assert_allclose(f[0, 0, :, 85].numpy(), [0.0, 0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(f[0, 0, :, 86:88].numpy(), [[0.7, 0.3]] * 3, atol=1e-7)
