"""``--densifier sam2``: moving tracks -> per-object masks with SAM2, streaming.

Per window: Stage 1 grouping and Stage 2 refinement of the window's moving tracks (the official
procedure, :mod:`.prompting`), plus the objects carried from the previous window, which SAM2 tracks
on from their mask on the last frame the previous window emitted (the first overlap frame). The
merge rules then decide which new objects are carried ones (they keep their id) and which are new
(next free id). Only those masks cross windows; the SAM2 state and its feature cache live for one
window (the image features of the frames shared with the next window are handed over, so no frame
is encoded twice), so memory stays bounded however long the video is. Offline mode (one window) is exactly the
official procedure.

SAM2's four networks run through the runtime layer on the configured backend (:mod:`.parts`), with
sam2's own Python memory-bank logic around them. Settings: :data:`OPTIONS` (``random_weights`` runs
without a checkpoint: tests and speed measurements only); the image size falls back on the
``MOTIONSEG_SAM2_IMAGE_SIZE`` environment variable.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ...config import RunConfig
from ...contracts import FrameWindow, MotionLabels, Tracks, WindowMasks
from ...options import Option, read_option, read_options
from .prompting import ObjectMasks, compose_labels, group_objects, merge_groups, refine_object

IMAGE_SIZE_ENV = "MOTIONSEG_SAM2_IMAGE_SIZE"


def _multiple_of_16(size: int) -> int:
    if size % 16:
        raise ValueError("must be a multiple of 16 (SAM2's stride)")
    return size

OPTIONS = (
    Option("sam2_image_size", None, "SAM2's square input size, a multiple of 16 (default: the config's, 1024; "
                                    "run --sam2-image-size)", kind=int, minimum=16, parse=_multiple_of_16),
    Option("sam2_min_confidence", 0.9, "tracks count as visible where their confidence exceeds this (official "
                                       "selection)", minimum=0.0, maximum=1.0),
    Option("sam2_feature_cache", 32, "frames of image features kept per window", minimum=1),
    Option("sam2_memory_slots", None, "pad the spatial memory to this many frames (static-shape engines)",
           kind=int, minimum=1),
    Option("sam2_pointer_slots", None, "pad the object-pointer memory to this many tokens (static-shape "
                                       "engines)", kind=int, minimum=1),
)


def image_size_of(config: RunConfig) -> Optional[int]:
    """SAM2's input size for ``config`` (``build`` and the run read it the same way)."""
    size = read_option(config, OPTIONS, "sam2_image_size") or os.environ.get(IMAGE_SIZE_ENV)
    return int(size) if size else None


class Sam2Densifier:
    """The SAM2 ``Densifier`` stage (see the module docstring)."""

    OPTIONS = OPTIONS

    def __init__(self, config: RunConfig, *, predictor=None, session_factory=None):
        self.config = config
        opt = read_options(config, OPTIONS)
        self.image_size: Optional[int] = image_size_of(config)
        self.min_confidence = opt["sam2_min_confidence"]
        self.feature_cache = opt["sam2_feature_cache"]
        self.memory_slots, self.pointer_slots = opt["sam2_memory_slots"], opt["sam2_pointer_slots"]
        self._predictor = predictor
        # frames -> VideoSession; the default runs SAM2 (tests of the id logic may pass another source)
        self._session_factory = session_factory
        self._next_id = 1
        # image features of the frames the next window shares with this one: {global frame: features}
        self._feature_carry: dict = {}
        self._carried: dict[int, np.ndarray] = {}  # global id -> mask on the last emitted frame
        self._last_emitted: Optional[int] = None  # global index of that frame

    def reset(self) -> None:
        """A scene cut: no object is carried into the new scene, no image feature reused."""
        self._feature_carry = {}
        self._carried = {}
        self._last_emitted = None

    # -- model -----------------------------------------------------------------------------------
    @classmethod
    def network_specs(cls, config: RunConfig, frame_hw) -> list:
        from .parts import sam2_network

        return [sam2_network(config, image_size_of(config))]  # SAM2 works at its own size, whatever the video's

    @classmethod
    def weight_needs(cls, config: RunConfig) -> list:
        """The checkpoint :func:`~.loader.resolve_checkpoint` will load."""
        from ...official_weights import SAM2_WEIGHTS, WeightNeed
        from ...options import ENGINE_OPTIONS, read_option

        if not config.sam2_checkpoint and read_option(config, ENGINE_OPTIONS, "random_weights"):
            return []
        return [WeightNeed(f"SAM2 checkpoint ({config.sam2_config})", SAM2_WEIGHTS.get(config.sam2_config),
                           config.sam2_checkpoint, "--sam2-checkpoint PATH")]

    @property
    def predictor(self):
        if self._predictor is None:
            self._predictor = self._build_predictor()
        return self._predictor

    def _build_predictor(self):
        """SAM2's video predictor with its networks on the configured backend."""
        from .loader import build_sam2_video_model, resolve_checkpoint
        from .parts import attach_runners

        predictor = build_sam2_video_model(self.config.sam2_config, resolve_checkpoint(self.config),
                                           device=self.config.device, image_size=self.image_size)
        return attach_runners(predictor, self.config, self.image_size, memory_slots=self.memory_slots,
                              pointer_slots=self.pointer_slots)

    # -- stage -----------------------------------------------------------------------------------
    def _session(self, window: FrameWindow):
        if self._session_factory is not None:
            return self._session_factory(window.frames)
        from .session import Sam2VideoSession

        seed = {g - window.start: f for g, f in self._feature_carry.items() if 0 <= g - window.start < window.length}
        return Sam2VideoSession(self.predictor, window.frames, feature_cache_frames=self.feature_cache,
                                seed_features=seed)

    def _keep_overlap_features(self, session, window: FrameWindow) -> None:
        """Frames this window shares with the next one are encoded once: keep their features."""
        self._feature_carry = {}
        if self._session_factory is not None or self.config.offline or window.is_last:
            return
        # all cached frames (at most the cache size): the next window picks those it contains, which
        # also covers a last window shifted back to keep its full length
        self._feature_carry = {window.start + k: f for k, f in session.cached_features().items()}

    def densify(self, window: FrameWindow, tracks: Tracks, labels: MotionLabels) -> WindowMasks:
        t_len, h, w = window.length, window.frames.shape[1], window.frames.shape[2]
        emit_from = window.emit_from
        moving = np.asarray(labels.moving, dtype=bool)
        xy = tracks.xy[moving]
        visible = tracks.visible[moving] & (tracks.confidence[moving] > self.min_confidence)

        session = self._session(window)
        candidates: list[ObjectMasks] = []

        # objects carried from the previous window, tracked on from the first overlap frame
        carried_ids: set[int] = set()
        first_overlap = window.start + emit_from - 1
        if self._carried and emit_from > 0 and self._last_emitted == first_overlap:
            session.reset()
            for gid, mask in self._carried.items():
                session.add_mask(emit_from - 1, gid, mask)
            tracked = {gid: np.zeros((t_len, h, w), bool) for gid in self._carried}
            for frame, ids, masks in session.propagate(reverse=False):
                for gid, m in zip(ids, masks):
                    tracked[gid][frame] = m
            for gid, m in tracked.items():
                candidates.append(ObjectMasks(obj_id=gid, masks=m))
                carried_ids.add(gid)

        # new objects from this window's moving tracks (Stage 1 + Stage 2)
        if visible.any():
            for k, obj in enumerate(group_objects(session, xy, visible), start=1):
                m = refine_object(session, k, xy[obj.tracks], visible[obj.tracks], obj.frame)
                if m is not None:
                    candidates.append(ObjectMasks(obj_id=-k, masks=m, tracks=obj.tracks))

        # merge (over the frames this window emits), then give ids
        ids: list[int] = []
        unions: list[np.ndarray] = []
        for group in merge_groups([c.masks for c in candidates], frames=slice(emit_from, t_len)):
            union = np.logical_or.reduce([candidates[i].masks for i in group])
            kept = sorted(candidates[i].obj_id for i in group if candidates[i].obj_id in carried_ids)
            if kept:
                gid = kept[0]
            elif union[emit_from:].any():
                gid = self._new_id(taken=set(ids) | carried_ids)
            else:
                continue  # nothing on the frames this window emits: not an object (yet)
            ids.append(gid)
            unions.append(union)

        self._keep_overlap_features(session, window)
        emitted = [u[emit_from:] for u in unions]
        out = compose_labels(emitted, ids, (t_len - emit_from, h, w))
        self._carried = {gid: u[-1].copy() for gid, u in zip(ids, unions) if u[-1].any()}
        self._last_emitted = window.start + t_len - 1
        present = sorted({int(i) for i in np.unique(out) if i})
        return WindowMasks(start=window.start + emit_from, labels=out, object_ids=present)


    def _new_id(self, taken: set[int]) -> int:
        """The next id; after 255 (the label maps are uint8) ids of objects no longer tracked are
        reused, lowest first."""
        if self._next_id <= 255:
            self._next_id += 1
            return self._next_id - 1
        free = [i for i in range(1, 256) if i not in taken and i not in self._carried]
        if not free:
            raise RuntimeError("more than 255 objects are tracked at once")
        return free[0]
