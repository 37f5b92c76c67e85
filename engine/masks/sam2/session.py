"""A :class:`~.prompting.VideoSession` over ``sam2``'s ``SAM2VideoPredictor`` for frames held in memory.

``SAM2VideoPredictor.init_state`` only reads JPEG folders / video files; we build the same inference
state from the window's RGB arrays (resized and normalised exactly as ``sam2.utils.misc`` does: PIL
resize to ``image_size``, /255, ImageNet mean/std). This couples to the state layout of sam2 1.x,
which the project pins.

Image features: the predictor keeps only the last frame's backbone output, so every reset/re-prompt
and every propagation direction would re-encode frames. The state here keeps up to
``feature_cache_frames`` frames (LRU) across resets instead: a window of up to that many frames is
encoded once.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)


class _FeatureLRU(OrderedDict):
    """frame -> (image, backbone_out), at most ``capacity`` frames.

    The positional encodings in ``backbone_out`` depend only on the feature sizes, yet at 1024 px
    they are the biggest part of it (the stride-4 level alone is 256x256x256 floats): every frame
    shares the first frame's copy."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = max(1, int(capacity))
        self._pos = None

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def absorb(self, other: dict) -> None:
        for k, v in other.items():
            image, backbone_out = v
            pos = backbone_out.get("vision_pos_enc")
            if pos is not None:
                if self._pos is None or [p.shape for p in self._pos] != [p.shape for p in pos]:
                    self._pos = pos
                backbone_out = {**backbone_out, "vision_pos_enc": self._pos}
            self[k] = (image, backbone_out)
            self.move_to_end(k)
        while len(self) > self.capacity:
            self.popitem(last=False)


class _InferenceState(dict):
    """sam2 replaces ``state["cached_features"]`` with a one-frame dict on every cache miss; here that
    assignment is folded into a bounded LRU that survives ``reset_state``."""

    def __setitem__(self, key, value):
        if key == "cached_features" and isinstance(self.get(key), _FeatureLRU):
            self[key].absorb(value)
        else:
            super().__setitem__(key, value)


def preprocess_frames(frames: np.ndarray, image_size: int):
    """uint8 RGB ``[T, H, W, 3]`` -> float32 tensor ``[T, 3, S, S]``, as sam2's frame loader does."""
    import torch
    from PIL import Image

    out = np.empty((frames.shape[0], image_size, image_size, 3), dtype=np.float32)
    for i, f in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(f).resize((image_size, image_size)), dtype=np.float32)
    x = torch.from_numpy(out / 255.0).permute(0, 3, 1, 2).contiguous()
    x -= torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
    x /= torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]
    return x


class Sam2VideoSession:
    """Prompt / propagate SAM2 on one window of frames (the :class:`VideoSession` interface)."""

    def __init__(self, predictor, frames: np.ndarray, *, feature_cache_frames: int = 32,
                 seed_features: dict | None = None):
        """``seed_features``: ``{local frame: (image, backbone_out)}`` already computed for these
        frames (the overlap with the previous window), so they are not encoded again."""
        import torch

        self.predictor = predictor
        self.num_frames = int(frames.shape[0])
        self.height, self.width = int(frames.shape[1]), int(frames.shape[2])
        device = predictor.device
        images = preprocess_frames(frames, predictor.image_size).to(device)
        s = _InferenceState()
        s["images"] = images
        s["num_frames"] = self.num_frames
        s["offload_video_to_cpu"] = False
        s["offload_state_to_cpu"] = False
        s["video_height"] = self.height
        s["video_width"] = self.width
        s["device"] = device
        s["storage_device"] = device
        s["point_inputs_per_obj"] = {}
        s["mask_inputs_per_obj"] = {}
        s["cached_features"] = _FeatureLRU(feature_cache_frames)
        if seed_features:
            s["cached_features"].absorb(dict(sorted(seed_features.items())))
        s["constants"] = {}
        s["obj_id_to_idx"] = OrderedDict()
        s["obj_idx_to_id"] = OrderedDict()
        s["obj_ids"] = []
        s["output_dict_per_obj"] = {}
        s["temp_output_dict_per_obj"] = {}
        s["frames_tracked_per_obj"] = {}
        self.state = s
        self._torch = torch

    def _ctx(self):
        # the networks' precision is their runners' (the backend's fp16 policy); the glue runs float32
        return self._torch.inference_mode()

    def cached_features(self) -> dict:
        """``{local frame: (image, backbone_out)}`` currently cached (to seed the next window)."""
        return dict(self.state["cached_features"])

    def _masks(self, video_res_logits) -> np.ndarray:
        return (video_res_logits[:, 0].float() > 0.0).cpu().numpy()

    def reset(self) -> None:
        with self._ctx():
            self.predictor.reset_state(self.state)

    def add_points(self, frame: int, obj_id: int, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        with self._ctx():
            _, ids, logits = self.predictor.add_new_points_or_box(
                inference_state=self.state, frame_idx=int(frame), obj_id=int(obj_id), points=pts,
                labels=np.ones(pts.shape[0], np.int32), clear_old_points=True, normalize_coords=True)
        return self._masks(logits)[list(ids).index(int(obj_id))]

    def add_mask(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        with self._ctx():
            self.predictor.add_new_mask(inference_state=self.state, frame_idx=int(frame),
                                        obj_id=int(obj_id), mask=np.asarray(mask, dtype=bool))

    def propagate(self, reverse: bool = False) -> Iterator[tuple[int, list[int], np.ndarray]]:
        import functools

        import sam2.sam2_video_predictor as svp

        # sam2 draws a tqdm bar per propagation (two per object per window): silence it for the call
        bar = svp.tqdm
        svp.tqdm = functools.partial(bar, disable=True)
        try:
            with self._ctx():
                for frame, ids, logits in self.predictor.propagate_in_video(self.state, reverse=reverse):
                    yield int(frame), [int(i) for i in ids], self._masks(logits)
        finally:
            svp.tqdm = bar
