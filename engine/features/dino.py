"""DINOv2 as the official SegAnyMo pipeline uses it: attention *key* features of one block.

The official pipeline (dino-vit-features' ``ViTExtractor`` around torch-hub ``dinov2_vitb14``):

* the patch-embedding convolution runs with stride 7 instead of 14 (overlapping patches, a finer
  grid: ``h' = 1 + (H14 - 14) // 7``);
* the position embeddings (a 37x37 grid for 518 px) are resized bicubically to that grid with a
  +0.1 offset on the scale factor (``scale_factor=(h'+0.1)/37``, ``recompute_scale_factor=False``);
* the descriptor is the attention key of block 11, computed from that block's normalised input, CLS
  dropped, channels ordered *within-head index major*: channel ``heads*j + k`` is dimension ``j`` of
  head ``k`` (SPEC.md §2.4 of the classifier fixture).

Here the network is transformers' :class:`Dinov2Model` built from a config (no download); the
position embeddings are resized once, in PyTorch, for the working resolution and stored in the module
(:class:`DinoKeyFeatures`), so the exported graph holds no bicubic resize (TensorRT has no
antialiased bicubic, and a fixed grid makes the graph static). Only the blocks up to the key
projection of the chosen block are kept: the rest of the network does not contribute.

This is a modelling module (imports torch); the engine imports it lazily.
"""
from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelFileError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torch-hub names -> transformers Dinov2Config fields. Both use 518 px / patch 14 (37x37 positions).
DINO_VARIANTS = {
    "vitb14": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12),
    "vits14": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
}
PATCH_SIZE = 14
PRETRAIN_IMAGE_SIZE = 518


@dataclass(frozen=True)
class DinoSpec:
    """Which DINO features to compute. ``layer`` is the block whose key is read (11 = last for B and S)."""

    variant: str = "vitb14"
    stride: int = 7
    layer: int = 11
    # "official": ViTExtractor's scale-factor resize with the +0.1 offset (what moseg.pth was trained
    # with); "hf": transformers' size-based resize.
    pos_resize: str = "official"

    def __post_init__(self):
        if self.variant not in DINO_VARIANTS:
            raise ValueError(f"unknown DINO variant {self.variant!r}; choose one of {sorted(DINO_VARIANTS)}")
        if PATCH_SIZE % self.stride:
            raise ValueError(f"DINO stride {self.stride} must divide the patch size {PATCH_SIZE}")

    @property
    def dim(self) -> int:
        return DINO_VARIANTS[self.variant]["hidden_size"]


def dino_input_size(height: int, width: int, patch: int = PATCH_SIZE) -> tuple[int, int]:
    """The official resize target: each side rounded *up* to a multiple of the patch size."""
    return int(math.ceil(height / patch) * patch), int(math.ceil(width / patch) * patch)


def dino_grid(height14: int, width14: int, stride: int = 7, patch: int = PATCH_SIZE) -> tuple[int, int]:
    """Token grid of the strided patch embedding for an input of ``height14 x width14``."""
    return 1 + (height14 - patch) // stride, 1 + (width14 - patch) // stride


def dino_config(variant: str = "vitb14", num_layers: Optional[int] = None):
    """A transformers ``Dinov2Config`` for a torch-hub variant; ``num_layers`` shrinks it (tests)."""
    from transformers import Dinov2Config

    fields = dict(DINO_VARIANTS[variant])
    if num_layers is not None:
        fields["num_hidden_layers"] = int(num_layers)
    return Dinov2Config(image_size=PRETRAIN_IMAGE_SIZE, patch_size=PATCH_SIZE, layerscale_value=1.0,
                        use_swiglu_ffn=False, qkv_bias=True, layer_norm_eps=1e-6, **fields)


def build_dino_backbone(variant: str = "vitb14", weights: Optional[str] = None,
                        num_layers: Optional[int] = None, seed: Optional[int] = None):
    """Build ``Dinov2Model`` offline; load ``weights`` (a local path) when given, else random init."""
    from transformers import Dinov2Model

    config = dino_config(variant, num_layers)
    config._attn_implementation = "sdpa"
    if seed is not None:
        torch.manual_seed(seed)
    model = Dinov2Model(config).eval()
    if weights is not None:
        load_dino_weights(model, weights)
    return model


# ---------------------------------------------------------------------------------------------
# Weight loading: torch-hub .pth (dinov2_vitb14_pretrain.pth) or a transformers checkpoint
# (facebook/dinov2-base: model.safetensors, old or new attention names), file or folder.

def hub_to_transformers_keys(sd: dict, num_heads: int) -> dict:
    """Map torch-hub DINOv2 keys (``blocks.N.attn.qkv``) onto transformers' ``Dinov2Model`` keys."""
    out = {}
    for k, v in sd.items():
        if k == "cls_token":
            out["embeddings.cls_token"] = v
        elif k == "pos_embed":
            out["embeddings.position_embeddings"] = v
        elif k == "mask_token":
            out["embeddings.mask_token"] = v.reshape(1, -1)
        elif k.startswith("patch_embed.proj."):
            out["embeddings.patch_embeddings.projection." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("norm."):
            out["layernorm." + k.split(".", 1)[1]] = v
        elif k.startswith("blocks."):
            _, idx, rest = k.split(".", 2)
            pre = f"encoder.layer.{idx}."
            if rest.startswith("attn.qkv."):
                kind = rest.rsplit(".", 1)[1]
                q, kk, vv = v.chunk(3, dim=0)  # rows: [q; k; v], each head-major inside
                out[pre + f"attention.q_proj.{kind}"] = q
                out[pre + f"attention.k_proj.{kind}"] = kk
                out[pre + f"attention.v_proj.{kind}"] = vv
            elif rest.startswith("attn.proj."):
                out[pre + "attention.o_proj." + rest.rsplit(".", 1)[1]] = v
            elif rest in ("ls1.gamma", "ls2.gamma"):
                out[pre + ("layer_scale1" if rest.startswith("ls1") else "layer_scale2") + ".lambda1"] = v
            else:  # norm1.*, norm2.*, mlp.fc1.*, mlp.fc2.*
                out[pre + rest] = v
        else:
            out[k] = v  # e.g. register_tokens: reported as unexpected by the strict load
    return out


def legacy_transformers_keys(sd: dict) -> dict:
    """transformers < 5 names (``attention.attention.query``) -> current names (``attention.q_proj``)."""
    renames = (("attention.attention.query.", "attention.q_proj."),
               ("attention.attention.key.", "attention.k_proj."),
               ("attention.attention.value.", "attention.v_proj."),
               ("attention.output.dense.", "attention.o_proj."))
    out = {}
    for k, v in sd.items():
        for old, new in renames:
            k = k.replace(old, new)
        out[k] = v
    return out


# Never used at inference (masked-image training only); some converted checkpoints leave it out.
OPTIONAL_KEYS = ("embeddings.mask_token", "backbone.embeddings.mask_token")


def load_strict(model, sd: dict, what: str) -> None:
    """Strict load with a one-line error that names what is missing / unexpected / mis-shaped."""
    own = model.state_dict()
    sd = dict(sd)
    for key in OPTIONAL_KEYS:
        if key in own and key not in sd:
            sd[key] = own[key]
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = [f"{k} {tuple(sd[k].shape)} != {tuple(own[k].shape)}" for k in own
              if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        def few(xs):
            return ", ".join(xs[:5]) + (f" (+{len(xs) - 5} more)" if len(xs) > 5 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch: {few(shapes)}")
        raise ModelFileError(f"{what} does not match the model: " + "; ".join(parts))
    model.load_state_dict({k: sd[k].to(own[k].dtype) for k in own}, strict=True)


def load_dino_weights(model, path: str) -> None:
    from ..state_dict import read_state_dict

    sd, _ = read_state_dict(path, "DINOv2 weights")
    if any(k.startswith("blocks.") for k in sd):
        sd = hub_to_transformers_keys(sd, model.config.num_attention_heads)
    else:
        sd = legacy_transformers_keys({k[len("dinov2."):] if k.startswith("dinov2.") else k: v
                                       for k, v in sd.items()})
    load_strict(model, sd, f"DINOv2 weights {path}")


# ---------------------------------------------------------------------------------------------
# Position embeddings, resized once for a fixed token grid

def resize_position_embeddings(pos_embed, grid_hw: tuple[int, int], mode: str = "official"):
    """``pos_embed`` [1, 1+N, C] (N a square) -> [1, 1+h*w, C] for a token grid ``grid_hw``.

    ``official`` reproduces ViTExtractor (scale factor with a +0.1 offset, not recomputed); ``hf``
    reproduces transformers' ``interpolate_pos_encoding`` (target size). Both bicubic, no antialias,
    computed in float32.
    """
    n = pos_embed.shape[1] - 1
    side = int(math.sqrt(n))
    if side * side != n:
        raise ValueError(f"position embeddings of {n} patches are not a square grid")
    h, w = grid_hw
    cls_pos, patch_pos = pos_embed[:, :1], pos_embed[:, 1:]
    if (h, w) == (side, side):
        return pos_embed.detach().clone()
    dim = pos_embed.shape[-1]
    grid = patch_pos.float().reshape(1, side, side, dim).permute(0, 3, 1, 2)
    if mode == "official":
        resized = F.interpolate(grid, scale_factor=((h + 0.1) / side, (w + 0.1) / side), mode="bicubic",
                                align_corners=False, recompute_scale_factor=False)
    elif mode == "hf":
        resized = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
    else:
        raise ValueError(f"unknown position-embedding resize mode {mode!r}")
    if tuple(resized.shape[-2:]) != (h, w):
        raise ValueError(f"position grid resized to {tuple(resized.shape[-2:])}, expected {(h, w)}")
    resized = resized.permute(0, 2, 3, 1).reshape(1, h * w, dim).to(pos_embed.dtype)
    return torch.cat([cls_pos, resized], dim=1).detach()


def bake_position_embeddings(embeddings_module, grid_hw: tuple[int, int], mode: str = "hf") -> None:
    """Make a transformers ``Dinov2Embeddings`` use fixed, pre-resized position embeddings.

    Used for Depth-Anything's backbone: its forward keeps working unchanged, but the bicubic resize
    is gone from the traced graph (the baked table is a constant of the exported model).
    """
    baked = resize_position_embeddings(embeddings_module.position_embeddings.data, grid_hw, mode)
    embeddings_module.register_buffer("baked_position_embeddings", baked, persistent=False)
    expected = baked.shape[1]

    def interpolate_pos_encoding(self, embeddings, height, width):
        if embeddings.shape[1] != expected:
            raise ValueError(f"position embeddings were baked for {expected - 1} patches, the input has "
                             f"{embeddings.shape[1] - 1}; rebuild the module for this resolution")
        return self.baked_position_embeddings.to(embeddings.dtype)

    embeddings_module.interpolate_pos_encoding = types.MethodType(interpolate_pos_encoding, embeddings_module)


# ---------------------------------------------------------------------------------------------
# The exported network

class DinoKeyFeatures(nn.Module):
    """Normalised image [B, 3, H14, W14] -> key features [B, h', w', C] (within-head-major channels).

    Inputs are the ImageNet-normalised frames already resized to (H14, W14) (see
    :func:`preprocess_dino`): the resize stays outside the graph.
    """

    def __init__(self, backbone, input_hw: tuple[int, int], spec: DinoSpec = DinoSpec()):
        super().__init__()
        cfg = backbone.config
        if not 0 <= spec.layer < cfg.num_hidden_layers:
            raise ValueError(f"layer {spec.layer} out of range for a {cfg.num_hidden_layers}-block model")
        self.spec = spec
        self.input_hw = tuple(int(s) for s in input_hw)
        if self.input_hw[0] % PATCH_SIZE or self.input_hw[1] % PATCH_SIZE:
            raise ValueError(f"input {self.input_hw} must be a multiple of {PATCH_SIZE} (see dino_input_size)")
        self.grid_hw = dino_grid(*self.input_hw, stride=spec.stride)
        self.num_heads = cfg.num_attention_heads
        emb = backbone.embeddings
        proj = emb.patch_embeddings.projection
        self.patch_proj = nn.Conv2d(proj.in_channels, proj.out_channels, kernel_size=proj.kernel_size,
                                    stride=spec.stride)
        self.patch_proj.load_state_dict(proj.state_dict())
        self.cls_token = nn.Parameter(emb.cls_token.detach().clone())
        self.register_buffer("position_embeddings",
                             resize_position_embeddings(emb.position_embeddings.data, self.grid_hw,
                                                        spec.pos_resize))
        self.blocks = nn.ModuleList(list(backbone.encoder.layer[: spec.layer]))
        last = backbone.encoder.layer[spec.layer]
        self.key_norm = last.norm1
        self.key_proj = last.attention.k_proj

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        b = pixel_values.shape[0]
        x = self.patch_proj(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(b, -1, -1).to(x.dtype), x], dim=1)
        x = x + self.position_embeddings.to(x.dtype)
        for blk in self.blocks:
            x = blk(x)
        keys = self.key_proj(self.key_norm(x))[:, 1:]  # drop CLS; channels head-major: k*dh + j
        h, w = self.grid_hw
        c = keys.shape[-1]
        dh = c // self.num_heads
        # official layout: channel heads*j + k = dimension j of head k
        keys = keys.reshape(b, h * w, self.num_heads, dh).transpose(2, 3).reshape(b, h, w, c)
        return keys


def build_dino_key_features(height: int, width: int, spec: DinoSpec = DinoSpec(),
                            weights: Optional[str] = None, num_layers: Optional[int] = None,
                            seed: Optional[int] = None):
    """The module for a working resolution ``height x width`` (resized to multiples of 14 outside)."""
    backbone = build_dino_backbone(spec.variant, weights=weights, num_layers=num_layers, seed=seed)
    return DinoKeyFeatures(backbone, dino_input_size(height, width), spec).eval()


def preprocess_dino(frames: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """uint8 RGB [Q, H, W, 3] -> float32 [Q, 3, H14, W14], resized and ImageNet-normalised.

    As the official ``transforms.ToTensor -> Resize -> Normalize`` on tensors: bilinear with
    antialias (torch's own kernel, which torchvision calls for tensors), then normalise.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    if tuple(x.shape[-2:]) != tuple(input_hw):
        x = F.interpolate(x, size=tuple(input_hw), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).numpy().astype(np.float32, copy=False)
