"""SAM2 as four ONNX graphs, the memory bank kept outside them.

* ``image_encoder``      image [1, 3, S, S] -> the three FPN levels (the first two already through the
                          mask decoder's conv_s0 / conv_s1, as ``SAM2Base.forward_image`` does) and
                          their positional encodings;
* ``prompt_mask_decoder`` prompt encoder + mask decoder: image embedding, high-res features, points
                          [1, P, 2] / labels [1, P] (P dynamic), an optional mask prompt -> all four
                          masks, IoUs, output tokens, object score. Choosing between them (multimask,
                          stability fallback) stays in Python, as in SAM2;
* ``memory_attention``    current features + a memory of spatial slots [1, Ms, 64] and object-pointer
                          slots [1, Mp, 64] with a validity mask per slot: the caller may pad the bank
                          to fixed shapes (TensorRT profiles) and the padding is exactly ignored;
* ``memory_encoder``      pixel features + mask -> memory features and their positional encoding.

The memory attention is re-written here (same weights, same maths) because SAM2's RoPE uses complex
tensors, which ONNX cannot express: the rotation is done with cos/sin tables in real arithmetic.

Usage: ``python -m motionseg_trt.export.sam2 --config sam2.1_hiera_t --checkpoint sam2.1_hiera_tiny.pt
--out DIR [--image-size 1024] [--fp16]``.
"""
from __future__ import annotations

import argparse
import math
import os
from typing import Optional

PART_NAMES = ("image_encoder", "prompt_mask_decoder", "memory_attention", "memory_encoder")

IMAGE_ENCODER_OUTPUTS = ["fpn0", "fpn1", "fpn2", "pos0", "pos1", "pos2"]
DECODER_INPUTS = ["image_embed", "high_res_feat0", "high_res_feat1", "point_coords", "point_labels",
                  "mask_input", "has_mask_input"]
DECODER_OUTPUTS = ["masks", "iou_pred", "mask_tokens", "object_score_logits"]
MEMATTN_INPUTS = ["curr", "curr_pos", "mem_spatial", "mem_spatial_pos", "mem_ptr", "mem_ptr_pos",
                  "mem_spatial_valid", "mem_ptr_valid"]
MEMATTN_OUTPUTS = ["pix_feat_with_mem"]
MEMENC_INPUTS = ["pix_feat", "mask"]
MEMENC_OUTPUTS = ["maskmem_features", "maskmem_pos_enc"]


def _nn():
    import torch
    from torch import nn

    return torch, nn


# ---------------------------------------------------------------------------------------------------
# Export-friendly wrappers (built on demand: torch is imported lazily)
# ---------------------------------------------------------------------------------------------------
def image_encoder_module(model):
    torch, nn = _nn()

    class ImageEncoder(nn.Module):
        def __init__(self, sam):
            super().__init__()
            self.sam = sam

        def forward(self, image):
            # the class's method: the predictor's own may be routed to this graph's runner
            out = type(self.sam).forward_image(self.sam, image)
            fpn, pos = out["backbone_fpn"], out["vision_pos_enc"]
            return tuple(fpn) + tuple(pos)

    return ImageEncoder(model).eval()


def prompt_mask_decoder_module(model):
    torch, nn = _nn()

    class PromptMaskDecoder(nn.Module):
        def __init__(self, sam):
            super().__init__()
            self.prompt_encoder = sam.sam_prompt_encoder
            self.mask_decoder = sam.sam_mask_decoder

        def forward(self, image_embed, high_res_feat0, high_res_feat1, point_coords, point_labels,
                    mask_input, has_mask_input):
            pe = self.prompt_encoder
            # boxes are never given, so SAM pads the points with one "not a point" entry
            sparse = pe._embed_points(point_coords, point_labels, pad=True)
            no_mask = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand_as(image_embed)
            has = has_mask_input.reshape(1, 1, 1, 1)
            dense = has * pe._embed_masks(mask_input) + (1.0 - has) * no_mask
            masks, iou, tokens, obj = self.mask_decoder.predict_masks(
                image_embeddings=image_embed, image_pe=pe.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, repeat_image=False,
                high_res_features=[high_res_feat0, high_res_feat1])
            return masks, iou, tokens, obj

    return PromptMaskDecoder(model).eval()


def memory_encoder_module(model):
    torch, nn = _nn()

    class MemoryEncoder(nn.Module):
        def __init__(self, sam):
            super().__init__()
            self.encoder = sam.memory_encoder

        def forward(self, pix_feat, mask):
            out = self.encoder(pix_feat, mask, skip_mask_sigmoid=True)  # SAM2 sigmoids beforehand
            return out["vision_features"], out["vision_pos_enc"][0]

    return MemoryEncoder(model).eval()


def rope_tables(dim: int, end_x: int, end_y: int, theta: float = 10000.0):
    """cos / sin tables ``[end_x * end_y, dim // 2]`` of SAM2's axial RoPE (x frequencies, then y)."""
    torch, _ = _nn()
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].float() / dim))
    t = torch.arange(end_x * end_y, dtype=torch.float32)
    t_x = t % end_x
    t_y = torch.div(t, end_x, rounding_mode="floor")
    angles = torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)
    return torch.cos(angles), torch.sin(angles)


def memory_attention_module(model):
    """SAM2's MemoryAttention with real-arithmetic RoPE and per-slot validity masks.

    Inputs are batch-first ``[1, tokens, channels]``; ``mem_spatial`` holds whole frames of ``h*w``
    tokens each (so rotary tables repeat per frame, SAM2's ``rope_k_repeat``), object pointers get no
    rotation (SAM2's ``num_k_exclude_rope``). Invalid slots (valid == 0) get no attention weight.
    """
    torch, nn = _nn()
    mem_attn = model.memory_attention
    grid = model.image_size // 16

    class RealRoPEAttention(nn.Module):
        def __init__(self, attn, cos, sin, repeat_k: bool):
            super().__init__()
            self.attn = attn
            self.heads = attn.num_heads
            self.repeat_k = repeat_k
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

        def _heads(self, x):
            b, n, c = x.shape
            return x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

        def _rotate(self, x):
            # x [B, heads, n * L, d] with L = len(cos): consecutive channel pairs are (real, imag)
            b, hd, n, d = x.shape
            length = self.cos.shape[0]
            x = x.reshape(b, hd, n // length, length, d // 2, 2)
            re, im = x[..., 0], x[..., 1]
            out = torch.stack([re * self.cos - im * self.sin, re * self.sin + im * self.cos], dim=-1)
            return out.reshape(b, hd, n, d)

        def forward(self, q, k_rope, k_plain, v, key_bias):
            a = self.attn
            q = self._rotate(self._heads(a.q_proj(q)))
            k = self._rotate(self._heads(a.k_proj(k_rope)))
            if k_plain is not None:  # keys without rotation (object pointers)
                k = torch.cat([k, self._heads(a.k_proj(k_plain))], dim=2)
            v = self._heads(a.v_proj(v))
            scale = 1.0 / math.sqrt(q.shape[-1])
            scores = torch.matmul(q, k.transpose(-1, -2)) * scale
            if key_bias is not None:
                scores = scores + key_bias
            out = torch.matmul(torch.softmax(scores, dim=-1), v)
            b, hd, n, d = out.shape
            return a.out_proj(out.transpose(1, 2).reshape(b, n, hd * d))

    class MemoryAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = mem_attn
            layers = []
            for layer in mem_attn.layers:
                sa, ca = layer.self_attn, layer.cross_attn_image
                cos_s, sin_s = rope_tables(sa.internal_dim // sa.num_heads, grid, grid, _theta(sa))
                cos_c, sin_c = rope_tables(ca.internal_dim // ca.num_heads, grid, grid, _theta(ca))
                layers.append(nn.ModuleList([RealRoPEAttention(sa, cos_s, sin_s, False),
                                             RealRoPEAttention(ca, cos_c, sin_c, True)]))
            self.rope_layers = nn.ModuleList(layers)

        def forward(self, curr, curr_pos, mem_spatial, mem_spatial_pos, mem_ptr, mem_ptr_pos,
                    mem_spatial_valid, mem_ptr_valid):
            m = self.m
            out = curr + 0.1 * curr_pos if m.pos_enc_at_input else curr
            valid = torch.cat([mem_spatial_valid, mem_ptr_valid], dim=-1)  # [1, Ms + Mp]
            # 0 where valid, -inf where padded: exact masking (the softmax ignores those keys)
            key_bias = torch.where(valid > 0.5, torch.zeros_like(valid),
                                   torch.full_like(valid, float("-inf")))[:, None, None, :]
            for layer, (sa, ca) in zip(m.layers, self.rope_layers):
                t2 = layer.norm1(out)
                qk = t2 + curr_pos if layer.pos_enc_at_attn else t2
                out = out + sa(qk, qk, None, t2, None)
                t2 = layer.norm2(out)
                q = t2 + curr_pos if layer.pos_enc_at_cross_attn_queries else t2
                if layer.pos_enc_at_cross_attn_keys:
                    ks, kp = mem_spatial + mem_spatial_pos, mem_ptr + mem_ptr_pos
                else:
                    ks, kp = mem_spatial, mem_ptr
                out = out + ca(q, ks, kp, torch.cat([mem_spatial, mem_ptr], dim=1), key_bias)
                t2 = layer.norm3(out)
                out = out + layer.linear2(layer.activation(layer.linear1(t2)))
            return m.norm(out)

    return MemoryAttention().eval()


def _theta(attn) -> float:
    # RoPEAttention keeps theta only inside its compute_cis partial
    return float(attn.compute_cis.keywords.get("theta", 10000.0))


# ---------------------------------------------------------------------------------------------------
# Example inputs and export
# ---------------------------------------------------------------------------------------------------
def example_inputs(model, part: str, *, num_points: int = 2, memory_frames: int = 2,
                   ptr_tokens: int = 8, seed: int = 0):
    """Random inputs of the right shapes for ``part`` (tracing, parity tests, benchmarks)."""
    torch, _ = _nn()
    g = torch.Generator().manual_seed(seed)
    s = model.image_size
    h = s // 16
    c = model.sam_prompt_embed_dim
    mem_dim = model.mem_dim
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    if part == "image_encoder":
        return (r(1, 3, s, s),)
    if part == "prompt_mask_decoder":
        coords = torch.rand(1, num_points, 2, generator=g) * s
        labels = torch.ones(1, num_points, dtype=torch.int32)
        return (r(1, c, h, h), r(1, c // 8, 4 * h, 4 * h), r(1, c // 4, 2 * h, 2 * h), coords, labels,
                r(1, 1, 4 * h, 4 * h), torch.ones(1))
    if part == "memory_attention":
        hw = h * h
        return (r(1, hw, c), r(1, hw, c), r(1, memory_frames * hw, mem_dim), r(1, memory_frames * hw, mem_dim),
                r(1, ptr_tokens, mem_dim), r(1, ptr_tokens, mem_dim),
                torch.ones(1, memory_frames * hw), torch.ones(1, ptr_tokens))
    if part == "memory_encoder":
        return (r(1, c, h, h), torch.rand(1, 1, s, s, generator=g))
    raise ValueError(f"unknown SAM2 part {part!r}; one of {PART_NAMES}")


def part_module(model, part: str):
    return {"image_encoder": image_encoder_module, "prompt_mask_decoder": prompt_mask_decoder_module,
            "memory_attention": memory_attention_module, "memory_encoder": memory_encoder_module}[part](model)


def part_io(part: str):
    """(input names, output names, dynamic axes) of each graph."""
    if part == "image_encoder":
        return ["image"], IMAGE_ENCODER_OUTPUTS, {}
    if part == "prompt_mask_decoder":
        return DECODER_INPUTS, DECODER_OUTPUTS, {"point_coords": {1: "points"}, "point_labels": {1: "points"}}
    if part == "memory_attention":
        return MEMATTN_INPUTS, MEMATTN_OUTPUTS, {
            "mem_spatial": {1: "spatial_tokens"}, "mem_spatial_pos": {1: "spatial_tokens"},
            "mem_spatial_valid": {1: "spatial_tokens"},
            "mem_ptr": {1: "ptr_tokens"}, "mem_ptr_pos": {1: "ptr_tokens"}, "mem_ptr_valid": {1: "ptr_tokens"}}
    if part == "memory_encoder":
        return MEMENC_INPUTS, MEMENC_OUTPUTS, {}
    raise ValueError(f"unknown SAM2 part {part!r}; one of {PART_NAMES}")


def export_part(model, part: str, out_path: str, *, fp16: bool = False) -> str:
    from .onnx_utils import export_module

    inputs, outputs, dynamic = part_io(part)
    example = tuple(t.to(model.device) for t in example_inputs(model, part))  # a CUDA model traces on CUDA
    return export_module(part_module(model, part), example, out_path, inputs, outputs,
                         dynamic_axes=dynamic, fp16=fp16)


def export_all(model, out_dir: str, *, fp16: bool = False, parts=PART_NAMES) -> dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    suffix = ".fp16.onnx" if fp16 else ".onnx"
    return {p: export_part(model, p, os.path.join(out_dir, p + suffix), fp16=fp16) for p in parts}


MAX_POINTS = 16  # TensorRT profile: clicks per prompt (Stage 2 uses 1 or 3)
MAX_MEMORY_FRAMES = 16  # TensorRT profile: spatial memory frames (7 by default + conditioning frames)
MAX_POINTER_TOKENS = 64  # 16 object pointers x 4 tokens (SAM2's max_obj_ptrs_in_encoder)


def trt_profiles(model, part: str) -> Optional[dict]:
    """TensorRT optimisation profiles ``{input: (min, opt, max)}`` of the dynamic inputs."""
    hw = (model.image_size // 16) ** 2
    if part == "prompt_mask_decoder":
        return {"point_coords": ((1, 1, 2), (1, 3, 2), (1, MAX_POINTS, 2)),
                "point_labels": ((1, 1), (1, 3), (1, MAX_POINTS))}
    if part == "memory_attention":
        d = model.mem_dim
        sp = ((1, hw, d), (1, 7 * hw, d), (1, MAX_MEMORY_FRAMES * hw, d))
        pt = ((1, 1, d), (1, MAX_POINTER_TOKENS, d), (1, MAX_POINTER_TOKENS, d))
        return {"mem_spatial": sp, "mem_spatial_pos": sp, "mem_spatial_valid": tuple(s[:2] for s in sp),
                "mem_ptr": pt, "mem_ptr_pos": pt, "mem_ptr_valid": tuple(s[:2] for s in pt)}
    return None  # static shapes


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="sam2.1_hiera_t")
    ap.add_argument("--checkpoint", default=None, help="official SAM2 .pt; random weights when omitted")
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fp16", action="store_true")
    args = ap.parse_args(argv)
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model

    model = build_sam2_video_model(args.config, args.checkpoint, image_size=args.image_size)
    for part, path in export_all(model, args.out, fp16=args.fp16).items():
        print(f"{part}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
