"""SAM2's networks as exported graphs (``export/sam2.py``), run through ``motionseg_trt.runtime``
runners, with sam2's own video logic (memory bank, object pointers, conditioning frames) around them.

:func:`attach_exported_parts` takes a ``SAM2VideoPredictor`` and swaps its four network calls for
runner calls; everything else in the predictor stays as sam2 wrote it, so the masks follow the
PyTorch path up to floating-point differences. The memory bank lives in sam2's Python state; only
the memory *attention* sees it, as a spatial part (whole frames) and an object-pointer part, each
optionally padded to a fixed number of slots with a validity mask (``sam2_memory_slots`` /
``sam2_pointer_slots`` in ``config.extra``; needed by static-shape TensorRT engines).

Small glue stays in PyTorch in both paths: the mask-prompt resize (antialiased bilinear), the
multimask choice, the object-pointer projection MLP and the temporal encodings.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...config import RunConfig

EXPORT_VERSION = "sam2-parts-1"  # bump when export/sam2.py changes what the graphs compute


def _np(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().float().cpu().numpy())


def parts_dir(config: RunConfig, checkpoint: Optional[str], image_size: int):
    """Folder of the exported graphs for these weights, config and image size."""
    from ...runtime.networks import artifacts_dir, weights_tag

    return (artifacts_dir(config) / "onnx" / "sam2"
            / f"{config.sam2_config}_{image_size}_{weights_tag(checkpoint)}_{EXPORT_VERSION}")


def export_parts_cached(predictor, config: RunConfig, checkpoint: Optional[str],
                        fp16: Optional[bool] = None) -> dict[str, str]:
    """Export the four graphs once per (weights, config, image size, precision); return their paths."""
    from motionseg_trt.export.sam2 import PART_NAMES, export_part

    if fp16 is None:
        # --fp16 only means something on a GPU (as everywhere in the CLI). TensorRT always builds
        # from the float32 graph (its loader applies the precision), as `motionseg-trt build` does,
        # so both find the same ONNX file and the same engine.
        fp16 = bool(config.fp16) and config.device == "cuda" and config.backend != "trt"
    out_dir = parts_dir(config, checkpoint, predictor.image_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part in PART_NAMES:
        path = out_dir / (part + (".fp16.onnx" if fp16 else ".onnx"))
        if not path.exists():
            export_part(predictor, part, str(path), fp16=fp16)
        paths[part] = str(path)
    return paths


def engine_name(part: str) -> str:
    """Name of a part's TensorRT engine-cache entry (``motionseg-trt build`` uses the same)."""
    return f"sam2_{part}"


def engine_cache_dir(config: RunConfig) -> str:
    """Where TensorRT engines live: the folder ``motionseg-trt build`` fills for every network."""
    from ...runtime.networks import artifacts_dir

    return str(artifacts_dir(config) / "trt")


class Sam2PartRunners:
    """The four runners plus the calls sam2's predictor makes, in sam2's tensor layouts.

    On TensorRT each part is built from ``paths`` with the shape profiles of
    ``export.sam2.trt_profiles`` into ``trt_cache_dir`` under :func:`engine_name`, exactly what
    ``export.sam2.build_targets`` hands to ``motionseg-trt build``."""

    def __init__(self, predictor, paths: dict[str, str], *, backend: str = "onnxruntime",
                 fp16: bool = False, device: str = "cpu", threads: Optional[int] = None,
                 memory_slots: Optional[int] = None, pointer_slots: Optional[int] = None,
                 trt_cache_dir: Optional[str] = None):
        from motionseg_trt.export.sam2 import trt_profiles

        from ...runtime import make_runner

        providers = ["cuda", "cpu"] if device == "cuda" else ["cpu"]
        self.runners = {}
        for name, path in paths.items():
            kwargs = {"intra_op_threads": threads} if backend == "onnxruntime" else \
                {"profiles": trt_profiles(predictor, name), "name": engine_name(name), "cache_dir": trt_cache_dir}
            self.runners[name] = make_runner(path, backend, fp16=fp16, providers=providers, **kwargs)
        self.model = predictor
        self.memory_slots = memory_slots
        self.pointer_slots = pointer_slots

    def _run(self, part: str, feed: dict) -> dict:
        return self.runners[part].infer(feed)

    # -- image encoder ---------------------------------------------------------------------------
    def forward_image(self, img_batch):
        import torch

        outs = [self._run("image_encoder", {"image": _np(img_batch[i:i + 1])})
                for i in range(img_batch.shape[0])]
        dev = img_batch.device

        def cat(name):
            return torch.from_numpy(np.concatenate([o[name] for o in outs])).to(dev)

        fpn = [cat(f"fpn{i}") for i in range(3)]
        pos = [cat(f"pos{i}") for i in range(3)]
        return {"vision_features": fpn[-1], "vision_pos_enc": pos, "backbone_fpn": fpn}

    # -- prompt encoder + mask decoder -----------------------------------------------------------
    def decode(self, backbone_features, coords, labels, mask_prompt, high_res_features):
        """Raw decoder outputs for a batch: masks [B, 4, ...], ious [B, 4], tokens [B, 4, C], scores."""
        import torch

        b = backbone_features.shape[0]
        h4 = self.model.sam_prompt_encoder.mask_input_size
        outs = []
        for i in range(b):
            if mask_prompt is None:
                mask, has = np.zeros((1, 1) + tuple(h4), np.float32), np.zeros(1, np.float32)
            else:
                mask, has = _np(mask_prompt[i:i + 1]), np.ones(1, np.float32)
            outs.append(self._run("prompt_mask_decoder", {
                "image_embed": _np(backbone_features[i:i + 1]),
                "high_res_feat0": _np(high_res_features[0][i:i + 1]),
                "high_res_feat1": _np(high_res_features[1][i:i + 1]),
                "point_coords": _np(coords[i:i + 1]),
                "point_labels": np.ascontiguousarray(labels[i:i + 1].cpu().numpy().astype(np.int32)),
                "mask_input": mask, "has_mask_input": has}))
        dev = backbone_features.device
        return tuple(torch.from_numpy(np.concatenate([o[n] for o in outs])).to(dev)
                     for n in ("masks", "iou_pred", "mask_tokens", "object_score_logits"))

    def forward_sam_heads(self, backbone_features, point_inputs=None, mask_inputs=None,
                          high_res_features=None, multimask_output=False):
        """``SAM2Base._forward_sam_heads`` with the prompt encoder + decoder as one graph."""
        import torch
        import torch.nn.functional as F
        from sam2.modeling.sam2_base import NO_OBJ_SCORE

        m = self.model
        dec = m.sam_mask_decoder
        b = backbone_features.size(0)
        device = backbone_features.device
        if point_inputs is not None:
            coords, labels = point_inputs["point_coords"], point_inputs["point_labels"]
        else:  # no clicks: one padding point, as SAM2 does
            coords = torch.zeros(b, 1, 2, device=device)
            labels = -torch.ones(b, 1, dtype=torch.int32, device=device)
        mask_prompt = None
        if mask_inputs is not None:
            size = m.sam_prompt_encoder.mask_input_size
            mask_prompt = mask_inputs.float()
            if mask_inputs.shape[-2:] != size:
                mask_prompt = F.interpolate(mask_prompt, size=size, align_corners=False, mode="bilinear",
                                            antialias=True)
        masks, ious, tokens, obj_logits = self.decode(backbone_features, coords, labels, mask_prompt,
                                                      high_res_features)
        # the mask decoder's own output selection
        if multimask_output:
            masks, ious = masks[:, 1:], ious[:, 1:]
        elif dec.dynamic_multimask_via_stability and not dec.training:
            masks, ious = dec._dynamic_multimask_via_stability(masks, ious)
        else:
            masks, ious = masks[:, 0:1], ious[:, 0:1]
        tokens = tokens[:, 1:] if (multimask_output and dec.use_multimask_token_for_obj_ptr) else tokens[:, 0:1]

        low_res_multimasks = masks
        if m.pred_obj_scores:
            appearing = obj_logits > 0
            low_res_multimasks = torch.where(appearing[:, None, None], low_res_multimasks, NO_OBJ_SCORE)
        low_res_multimasks = low_res_multimasks.float()
        high_res_multimasks = F.interpolate(low_res_multimasks, size=(m.image_size, m.image_size),
                                            mode="bilinear", align_corners=False)
        token = tokens[:, 0]
        if multimask_output:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(b, device=device)
            low_res_masks = low_res_multimasks[rows, best].unsqueeze(1)
            high_res_masks = high_res_multimasks[rows, best].unsqueeze(1)
            if tokens.size(1) > 1:
                token = tokens[rows, best]
        else:
            low_res_masks, high_res_masks = low_res_multimasks, high_res_multimasks
        obj_ptr = m.obj_ptr_proj(token)
        if m.pred_obj_scores:
            lam = obj_logits.sigmoid() if m.soft_no_obj_ptr else appearing.float()
            if m.fixed_no_obj_ptr:
                obj_ptr = lam * obj_ptr
            obj_ptr = obj_ptr + (1 - lam) * m.no_obj_ptr
        return (low_res_multimasks, high_res_multimasks, ious, low_res_masks, high_res_masks, obj_ptr,
                obj_logits)

    # -- memory attention ------------------------------------------------------------------------
    def memory_attention(self, curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens=0):
        """Same call as sam2's ``MemoryAttention`` (sequence-first tensors)."""
        import torch

        curr = curr[0] if isinstance(curr, list) else curr
        curr_pos = curr_pos[0] if isinstance(curr_pos, list) else curr_pos
        hw, b, c = curr.shape
        n_sp = memory.shape[0] - int(num_obj_ptr_tokens)
        if n_sp % hw:
            raise ValueError(f"spatial memory of {n_sp} tokens is not whole frames of {hw}")
        frames = n_sp // hw
        n_ptr = int(num_obj_ptr_tokens)
        slots = self.memory_slots or frames
        ptr_slots = self.pointer_slots or max(n_ptr, 1)  # at least one (masked) slot: no empty inputs
        if frames > slots or n_ptr > ptr_slots:
            raise ValueError(f"SAM2 memory of {frames} frames / {n_ptr} pointer tokens exceeds the fixed "
                             f"slots ({slots} / {ptr_slots}); raise sam2_memory_slots / sam2_pointer_slots")
        mem_dim = memory.shape[-1]
        outs = []
        for i in range(b):
            sp = np.zeros((1, slots * hw, mem_dim), np.float32)
            sp_pos = np.zeros_like(sp)
            ptr = np.zeros((1, ptr_slots, mem_dim), np.float32)
            ptr_pos = np.zeros_like(ptr)
            sp[0, :n_sp] = _np(memory[:n_sp, i])
            sp_pos[0, :n_sp] = _np(memory_pos[:n_sp, i])
            ptr[0, :n_ptr] = _np(memory[n_sp:, i])
            ptr_pos[0, :n_ptr] = _np(memory_pos[n_sp:, i])
            sp_valid = np.zeros((1, slots * hw), np.float32)
            sp_valid[0, :n_sp] = 1
            ptr_valid = np.zeros((1, ptr_slots), np.float32)
            ptr_valid[0, :n_ptr] = 1
            out = self._run("memory_attention", {
                "curr": _np(curr[:, i][None]), "curr_pos": _np(curr_pos[:, i][None]),
                "mem_spatial": sp, "mem_spatial_pos": sp_pos, "mem_ptr": ptr, "mem_ptr_pos": ptr_pos,
                "mem_spatial_valid": sp_valid, "mem_ptr_valid": ptr_valid})["pix_feat_with_mem"]
            outs.append(out[0])
        return torch.from_numpy(np.stack(outs, axis=1)).to(curr.device)  # [HW, B, C]

    # -- memory encoder --------------------------------------------------------------------------
    def memory_encoder(self, pix_feat, masks, skip_mask_sigmoid=False):
        import torch

        if not skip_mask_sigmoid:
            masks = torch.sigmoid(masks)
        feats, pos = [], []
        for i in range(pix_feat.shape[0]):
            o = self._run("memory_encoder", {"pix_feat": _np(pix_feat[i:i + 1]), "mask": _np(masks[i:i + 1])})
            feats.append(o["maskmem_features"])
            pos.append(o["maskmem_pos_enc"])
        dev = pix_feat.device
        return {"vision_features": torch.from_numpy(np.concatenate(feats)).to(dev),
                "vision_pos_enc": [torch.from_numpy(np.concatenate(pos)).to(dev)]}


def _module_calling(fn):
    """An ``nn.Module`` whose forward is ``fn`` (sam2 calls its submodules like modules)."""
    from torch import nn

    class _Call(nn.Module):
        def forward(self, *args, **kwargs):
            return fn(*args, **kwargs)

    return _Call()


def attach_parts(predictor, parts: Sam2PartRunners):
    """Route the predictor's four network calls through ``parts`` (in place; returns the predictor)."""
    predictor.forward_image = parts.forward_image
    predictor._forward_sam_heads = parts.forward_sam_heads
    predictor.memory_attention = _module_calling(parts.memory_attention)
    predictor.memory_encoder = _module_calling(parts.memory_encoder)
    predictor.exported_parts = parts
    return predictor


def attach_exported_parts(predictor, config: RunConfig, checkpoint: Optional[str]):
    """Export (once, cached) and attach the graphs for ``config.backend``."""
    extra = config.extra or {}
    paths = export_parts_cached(predictor, config, checkpoint)
    fp16 = bool(config.fp16) and (config.device == "cuda" or config.backend == "trt")
    parts = Sam2PartRunners(predictor, paths, backend=config.backend, fp16=fp16,
                            device=config.device, threads=config.threads,
                            memory_slots=extra.get("sam2_memory_slots"),
                            pointer_slots=extra.get("sam2_pointer_slots"),
                            trt_cache_dir=engine_cache_dir(config))
    return attach_parts(predictor, parts)
