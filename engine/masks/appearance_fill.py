"""The embedded set's appearance-aware densifier: the edge-aware motion fill, then each frame's salient
and moving regions kept or dropped by a region classifier (:mod:`.region_fusion`).

The motion fill (:class:`~.edge_fill.EdgeFillDensifier`, its options apply) says where each object
moves and gives it its id; the appearance stage's saliency map says where objects are and where they
end. Region by region, the classifier keeps the moving parts that are objects, adds the salient parts
that belong to a moving object (legs, heads, the parts whose tracks are sparse) and drops moving areas
that are not objects (ripples, shadows). ``region_model`` chooses the classifier: ``davis`` (trained on
the DAVIS-2016 train clips, non-commercial: see its model card) or ``rule`` (a fixed rule, no training
data).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, MotionLabels, Tracks, WindowFeatures, WindowMasks
from ..errors import OptionError
from ..options import Option, read_options
from .edge_fill import EdgeFillDensifier
from .region_fusion import RegionModel, RegionRule, decide, frame_regions, fused_labels

REGION_MODELS = {"davis": "region_model_davis_v1.safetensors"}
OPTIONS = (
    Option("region_model", "davis", "region classifier: davis (trained on DAVIS-2016 train, non-commercial), "
                                    "rule (no training data), or a path to a region model file", kind=str),
    Option("region_threshold", None, "keep a region above this probability (default: the model's own)",
           kind=float, minimum=0.0, maximum=1.0),
    Option("saliency_threshold", 0.5, "saliency above this is salient", minimum=0.0, maximum=1.0),
    Option("region_fallback", True, "when no region is kept in a frame that moves, keep its moving regions"),
)


def weights_path(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / "weights" / name


def load_region_model(choice: str):
    if choice == "rule":
        return RegionRule()
    path = weights_path(REGION_MODELS[choice]) if choice in REGION_MODELS else Path(choice)
    if not path.is_file():
        raise OptionError(f"--option region_model={choice}: choose {', '.join([*REGION_MODELS, 'rule'])} "
                          f"or a region model file")
    return RegionModel(path)


class AppearanceFillDensifier:
    """:class:`~motionseg_trt.contracts.Densifier` of motion fill and saliency regions."""

    OPTIONS = OPTIONS

    def __init__(self, config: Optional[RunConfig] = None):
        config = config or RunConfig()
        opt = read_options(config, OPTIONS)
        self.model = load_region_model(opt["region_model"])
        self.threshold = opt["region_threshold"] if opt["region_threshold"] is not None else \
            float(getattr(self.model, "threshold", 0.5))
        self.saliency_threshold = opt["saliency_threshold"]
        self.fallback = opt["region_fallback"]
        self.motion = EdgeFillDensifier(config)
        self.motion.keep_foreground = True

    def reset(self) -> None:
        """A scene cut: the motion fill forgets its objects (regions are per frame)."""
        self.motion.reset()

    def densify(self, window: FrameWindow, tracks: Tracks, labels: MotionLabels,
                features: Optional[WindowFeatures] = None) -> WindowMasks:
        masks = self.motion.densify(window, tracks, labels)
        if features is None or features.saliency is None:
            raise ValueError("the appearance densifier needs the appearance features stage (--features appearance)")
        h, w = window.frames.shape[1:3]
        half = (max(1, h // 2), max(1, w // 2))
        out = masks.labels.copy()
        for k, local in enumerate(range(window.emit_from, window.length)):
            soft = self.motion.foreground[k]
            if soft is None:  # no moving object in this window: nothing to fuse, motion is the judge
                continue
            regions = self.regions(features.saliency[local], masks.labels[k], soft, tracks, labels, local, half, (h, w))
            keep = decide(regions, self.model.prob(regions.features), self.threshold, self.fallback)
            out[k] = cv2.resize(fused_labels(regions, keep), (w, h), interpolation=cv2.INTER_NEAREST)
        return WindowMasks(start=masks.start, labels=out, object_ids=masks.object_ids)

    def regions(self, saliency, motion_ids, soft, tracks: Tracks, labels: MotionLabels, local: int, half, work_hw):
        """One frame's regions on the half-resolution grid (also what training describes)."""
        sal = cv2.resize(saliency, (half[1], half[0]), interpolation=cv2.INTER_LINEAR)
        ids = cv2.resize(motion_ids, (half[1], half[0]), interpolation=cv2.INTER_NEAREST)
        soft = cv2.resize(soft, (half[1], half[0]), interpolation=cv2.INTER_LINEAR)
        vis = tracks.visible[:, local]
        return frame_regions(sal, ids, soft, tracks.xy[vis & labels.moving, local],
                             tracks.xy[vis & ~labels.moving, local], work_hw, self.saliency_threshold)
