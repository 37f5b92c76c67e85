"""SAM2's networks as four graphs (``export/sam2.py``), run through ``motionseg_trt.runtime`` runners
on the configured backend, with sam2's own video logic (memory bank, object pointers, conditioning
frames) around them.

:func:`sam2_network` describes the four parts to the runtime layer (``build`` asks for the same);
:func:`attach_parts` takes a ``SAM2VideoPredictor`` and swaps its four network calls for runner
calls; everything else in the predictor stays as sam2 wrote it. The memory bank lives in sam2's
Python state; only the memory *attention* sees it, as a spatial part (whole frames) and an
object-pointer part, each optionally padded to a fixed number of slots with a validity mask
(options ``sam2_memory_slots`` / ``sam2_pointer_slots``; needed by static-shape TensorRT engines).

Small glue stays in PyTorch: the mask-prompt resize (antialiased bilinear), the multimask choice, the
object-pointer projection MLP and the temporal encodings.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ...config import RunConfig

EXPORT_VERSION = "sam2-parts-1"  # bump when export/sam2.py changes what the graphs compute


def _np(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().float().cpu().numpy())


def sam2_network(config: RunConfig, image_size: Optional[int], load_model: Optional[Callable] = None):
    """SAM2's four parts for ``config`` (its weights, ``--sam2-config``, ``image_size``; None: the
    config's own). ``load_model`` gives the video predictor when one is built already (a run); else
    it is built from ``config`` on first use (``build``)."""
    from ...runtime.network import Graph, NetworkSpec, once, weights_tag

    def describe():
        from motionseg_trt.export.sam2 import PART_NAMES, export_part, part_io, part_module, trt_profiles

        from .loader import build_sam2_video_model, resolve_checkpoint

        checkpoint = resolve_checkpoint(config)
        model = once(load_model or (lambda: build_sam2_video_model(config.sam2_config, checkpoint,
                                                                  image_size=image_size)))
        stem = f"sam2_{config.sam2_config}_{image_size or 'cfg'}px_{weights_tag(checkpoint)}_{EXPORT_VERSION}"
        graphs = []
        for part in PART_NAMES:
            inputs, outputs, _ = part_io(part)
            graphs.append(Graph(
                f"{stem}_{part}", part, inputs, outputs,
                export=lambda path, fp16, part=part: export_part(model(), part, path, fp16=fp16),
                module=lambda part=part: part_module(model(), part),
                profiles=lambda part=part: trt_profiles(model(), part)))
        return graphs

    return NetworkSpec("sam2", describe, config.sam2_config)


class Sam2PartRunners:
    """The four runners (``{part: Runner}``) plus the calls sam2's predictor makes, in sam2's tensor
    layouts."""

    def __init__(self, predictor, runners: dict, *, memory_slots: Optional[int] = None,
                 pointer_slots: Optional[int] = None):
        self.runners = runners
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


def attach_runners(predictor, config: RunConfig, image_size: Optional[int], *, memory_slots: Optional[int] = None,
                   pointer_slots: Optional[int] = None):
    """Run the predictor's four networks on ``config.backend`` (exported once, cached, as ``build``
    does)."""
    from ...runtime.dispatch import make_runners

    runners = make_runners(config, sam2_network(config, image_size, lambda: predictor), log=lambda m: None)
    for runner in runners.values():  # loaded before the predictor's networks are swapped for the runners
        runner.activate()
    return attach_parts(predictor, Sam2PartRunners(predictor, runners, memory_slots=memory_slots,
                                                   pointer_slots=pointer_slots))
