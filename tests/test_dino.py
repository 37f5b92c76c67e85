"""DINOv2 key features: official channel order, official position-embedding resize, ONNX parity,
no Resize left in the exported graph, weight-key mapping. Random weights, shrunk networks."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
ort = pytest.importorskip("onnxruntime")

from motionseg_trt.errors import ModelFileError  # noqa: E402
from motionseg_trt.features.dino import (DinoKeyFeatures, DinoSpec, build_dino_backbone, dino_grid,  # noqa: E402
                                         dino_input_size, hub_to_transformers_keys, load_dino_weights,
                                         preprocess_dino)

H, W = 40, 60


@pytest.fixture(scope="module")
def backbone():
    torch.set_num_threads(1)
    m = build_dino_backbone("vits14", num_layers=3, seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # make layer scales, biases and norms non-trivial
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return m


def official_reference_keys(m, x, layer, stride=7):
    """The official extractor's computation, written the way ViTExtractor + torch-hub do it: a fused
    qkv projection read by a forward hook, heads split as (3, heads, dh), permuted to B x t x (d h)."""
    emb = m.embeddings
    heads = m.config.num_attention_heads
    conv = torch.nn.Conv2d(3, m.config.hidden_size, 14, stride=stride)
    conv.load_state_dict(emb.patch_embeddings.projection.state_dict())
    t = conv(x).flatten(2).transpose(1, 2)
    t = torch.cat([emb.cls_token.expand(x.shape[0], -1, -1), t], 1)
    h0, w0 = dino_grid(x.shape[2], x.shape[3], stride)
    n = emb.position_embeddings.shape[1] - 1
    side = int(math.sqrt(n))
    pp = emb.position_embeddings[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    pp = torch.nn.functional.interpolate(pp, scale_factor=((h0 + 0.1) / side, (w0 + 0.1) / side),
                                         mode="bicubic", align_corners=False, recompute_scale_factor=False)
    pp = pp.permute(0, 2, 3, 1).reshape(1, h0 * w0, -1)
    t = t + torch.cat([emb.position_embeddings[:, :1], pp], 1)
    for blk in m.encoder.layer[:layer]:
        t = blk(t)
    att = m.encoder.layer[layer].attention
    qkv_w = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight])
    qkv_b = torch.cat([att.q_proj.bias, att.k_proj.bias, att.v_proj.bias])
    inp = m.encoder.layer[layer].norm1(t)
    b, nt, c = inp.shape
    qkv = torch.nn.functional.linear(inp, qkv_w, qkv_b).reshape(b, nt, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    desc = qkv[1].permute(0, 2, 3, 1).flatten(-2)[:, 1:]  # B x t x (d h): within-head index major
    return desc.reshape(b, h0, w0, c)


def test_sizes_follow_the_official_rule():
    assert dino_input_size(480, 854) == (490, 854)
    assert dino_grid(490, 854, stride=7) == (69, 121)
    assert dino_grid(490, 854, stride=14) == (35, 61)


def test_key_features_match_official_computation_and_channel_order(backbone):
    spec = DinoSpec("vits14", stride=7, layer=2)
    mod = DinoKeyFeatures(backbone, dino_input_size(H, W), spec).eval()
    x = torch.randn(2, 3, *mod.input_hw, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = mod(x)
        ref = official_reference_keys(backbone, x, layer=2)
    assert ours.shape == (2, *dino_grid(*mod.input_hw), 384)
    assert torch.allclose(ours, ref, atol=1e-5, rtol=0)
    # channel heads*j + k is dimension j of head k: the natural head-major order would differ
    heads = backbone.config.num_attention_heads
    head_major = ref.reshape(2, *ref.shape[1:3], 384 // heads, heads).transpose(-1, -2).reshape(ref.shape)
    assert not torch.allclose(ours, head_major, atol=1e-3)


def test_hf_position_resize_differs_from_official(backbone):
    """The +0.1 scale-factor offset matters: baking the transformers-style resize gives other features."""
    x = torch.randn(1, 3, *dino_input_size(H, W))
    with torch.no_grad():
        a = DinoKeyFeatures(backbone, x.shape[2:], DinoSpec("vits14", layer=2, pos_resize="official"))(x)
        b = DinoKeyFeatures(backbone, x.shape[2:], DinoSpec("vits14", layer=2, pos_resize="hf"))(x)
    assert (a - b).abs().max() > 1e-4


@pytest.mark.parametrize("fp16,tol", [(False, 1e-4), (True, 2e-2)])
def test_onnx_parity_and_no_resize_in_graph(backbone, tmp_path, fp16, tol):
    from motionseg_trt.export.dino import export_dino
    from motionseg_trt.export.onnx_utils import op_types

    mod = DinoKeyFeatures(backbone, dino_input_size(H, W), DinoSpec("vits14", layer=2)).eval()
    path = export_dino(str(tmp_path / "dino.onnx"), H, W, fp16=fp16, module=mod)
    ops = op_types(path)
    assert "Resize" not in ops and "Upsample" not in ops  # position embeddings are baked
    x = np.random.default_rng(0).standard_normal((3, 3, *mod.input_hw)).astype(np.float32)  # batch 3: dynamic
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"pixel_values": x})[0]
    with torch.no_grad():
        ref = mod(torch.from_numpy(x)).numpy()
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert np.abs(out - ref).max() <= tol * max(1.0, np.abs(ref).max())


def hub_layout(sd: dict, layers: int) -> dict:
    """A transformers Dinov2Model state dict rewritten in the torch-hub checkpoint layout, written
    out by hand from the hub model's module names (fused qkv = [q; k; v] rows, ls1.gamma, ...)."""
    hub = {"cls_token": sd["embeddings.cls_token"], "pos_embed": sd["embeddings.position_embeddings"],
           "mask_token": sd["embeddings.mask_token"].reshape(1, -1),
           "patch_embed.proj.weight": sd["embeddings.patch_embeddings.projection.weight"],
           "patch_embed.proj.bias": sd["embeddings.patch_embeddings.projection.bias"],
           "norm.weight": sd["layernorm.weight"], "norm.bias": sd["layernorm.bias"]}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            hub[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([sd[p + f"attention.{n}_proj.{kind}"] for n in "qkv"])
            hub[f"blocks.{i}.attn.proj.{kind}"] = sd[p + f"attention.o_proj.{kind}"]
            for n in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
                hub[f"blocks.{i}.{n}.{kind}"] = sd[p + f"{n}.{kind}"]
        hub[f"blocks.{i}.ls1.gamma"] = sd[p + "layer_scale1.lambda1"]
        hub[f"blocks.{i}.ls2.gamma"] = sd[p + "layer_scale2.lambda1"]
    return hub


def test_hub_checkpoint_key_mapping_roundtrip(backbone, tmp_path):
    """A torch-hub style state dict (fused qkv, ls1.gamma, pos_embed...) loads into Dinov2Model."""
    sd = backbone.state_dict()
    hub = hub_layout(sd, backbone.config.num_hidden_layers)
    assert set(hub_to_transformers_keys(hub, 6)) == set(sd)
    torch.save(hub, tmp_path / "hub.pth")
    fresh = build_dino_backbone("vits14", num_layers=3, seed=5)
    load_dino_weights(fresh, str(tmp_path / "hub.pth"))
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, sd[k]), k
    # a wrong file names what is wrong, in one line
    del hub["blocks.0.attn.qkv.weight"]
    torch.save(hub, tmp_path / "bad.pth")
    with pytest.raises(ModelFileError, match="missing keys: encoder.layer.0.attention.k_proj.weight"):
        load_dino_weights(fresh, str(tmp_path / "bad.pth"))


def test_preprocess_shape_and_range():
    frames = np.random.default_rng(0).integers(0, 255, (2, H, W, 3), dtype=np.uint8)
    x = preprocess_dino(frames, dino_input_size(H, W))
    assert x.shape == (2, 3, 42, 70) and x.dtype == np.float32
    assert -2.2 < x.min() and x.max() < 2.7  # ImageNet-normalised [0, 1] values
