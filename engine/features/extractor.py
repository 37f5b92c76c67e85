"""The official model set's feature stage: Depth-Anything-V2 disparity for every frame of a window
and DINOv2 key maps for the tracks' query frames, through the configured runtime backend.

Its settings are :data:`OPTIONS` (``random_weights`` gives random networks for plumbing tests; an
explicit ``dino_weights`` / ``depth_weights`` path still wins).

Overlapping windows share frames: maps already computed for a global frame index are reused, so in
streaming each frame goes through each network once.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional

import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, Tracks, WindowFeatures
from ..official_weights import DEPTH_WEIGHTS, DINO_WEIGHTS, resolve_weight
from ..options import ENGINE_OPTIONS, Option, read_option, read_options
from ..runtime.network import Graph, NetworkSpec, single, weights_tag

# Query frames are sparse (every 10th frame officially), so batching DINO gains little, while a graph
# without a fused attention kernel (ONNX Runtime CPU) holds a heads x tokens^2 matrix per image:
# 12 x 8350^2 floats = 3.3 GB at 854x480 with stride 7.
DINO_BATCH = 1
# part of the exported files' names: bump when the graphs change, so old exports are not reused
EXPORT_VERSION = 1
DEPTH_BATCH = 4

OPTIONS = (
    Option("dino_variant", "vitb14", "DINOv2 backbone (the official pipeline: vitb14)", choices=tuple(DINO_WEIGHTS)),
    Option("dino_stride", 7, "patch-embedding stride (official 7: overlapping patches)", choices=(1, 2, 7, 14)),
    Option("dino_layer", 11, "the block whose attention key is the feature", minimum=0),
    Option("dino_batch", DINO_BATCH, "query frames per DINO call", minimum=1),
    Option("dino_weights", None, "DINOv2 weights file (default: the downloaded one)", kind=str),
    Option("dino_layers", None, "keep only this many ViT blocks (shrunk test networks)", kind=int, minimum=1),
    Option("dino_f16_roundtrip", True, "round the DINO maps through float16, as the official feature files do"),
    Option("depth_variant", "small", "Depth-Anything-V2 size (the official pipeline: large)",
           choices=tuple(DEPTH_WEIGHTS)),
    Option("depth_side", 518, "the depth network's shorter input side (rounded to multiples of 14)", positive=True),
    Option("depth_batch", DEPTH_BATCH, "frames per depth call", minimum=1),
    Option("depth_weights", None, "Depth-Anything-V2 weights (default: the downloaded ones)", kind=str),
    Option("depth_layers", None, "keep only this many ViT blocks (shrunk test networks)", kind=int, minimum=1),
)


def _weights(config: RunConfig, registry_name: str, explicit: Optional[str]) -> Optional[str]:
    """An explicit path, else None for random weights, else the downloaded file (or a clear error)."""
    if not explicit and read_option(config, ENGINE_OPTIONS, "random_weights"):
        return None
    return resolve_weight(registry_name, explicit, config.weights_dir)


def dino_network(config: RunConfig, height: int, width: int) -> NetworkSpec:
    """The DINO key-feature network of ``config`` for a working resolution (``build`` and the stage)."""

    def graph() -> Graph:
        from .dino import DINO_VARIANTS, DinoSpec, dino_input_size

        opt = read_options(config, OPTIONS)
        spec = DinoSpec(opt["dino_variant"], opt["dino_stride"], opt["dino_layer"])
        weights = _weights(config, DINO_WEIGHTS[spec.variant], opt["dino_weights"])
        layers = opt["dino_layers"]
        in_hw = dino_input_size(height, width)

        def module():
            from .dino import build_dino_key_features

            return build_dino_key_features(height, width, spec, weights=weights, num_layers=layers, seed=0)

        def export(path, fp16):
            from motionseg_trt.export.dino import export_dino

            return export_dino(path, height, width, fp16=fp16, module=module())

        tag = f"L{layers}" if layers else ""
        name = (f"dino_{spec.variant}{tag}_s{spec.stride}_k{spec.layer}_{height}x{width}_{weights_tag(weights)}"
                f"_v{EXPORT_VERSION}")
        batch = opt["dino_batch"]
        profiles = {"pixel_values": ((1, 3, *in_hw), (1, 3, *in_hw), (batch, 3, *in_hw))}
        info = {"dim": DINO_VARIANTS[spec.variant]["hidden_size"], "input_hw": in_hw}
        return Graph(name, "dino", ("pixel_values",), ("dino_keys",), export, module, profiles, info)

    return single("dino", graph)


def depth_network(config: RunConfig, height: int, width: int) -> NetworkSpec:
    """The depth (disparity) network of ``config`` for a working resolution (``build`` and the stage)."""

    def graph() -> Graph:
        from .depth import DepthSpec, depth_input_size

        opt = read_options(config, OPTIONS)
        spec = DepthSpec(opt["depth_variant"], opt["depth_side"])
        weights = _weights(config, DEPTH_WEIGHTS[spec.variant], opt["depth_weights"])
        layers = opt["depth_layers"]
        in_hw = depth_input_size(height, width, spec.side)

        def module():
            from .depth import build_depth_disparity

            return build_depth_disparity(height, width, spec, weights=weights, num_layers=layers, seed=0)

        def export(path, fp16):
            from motionseg_trt.export.depth import export_depth

            return export_depth(path, height, width, fp16=fp16, module=module())

        tag = f"L{layers}" if layers else ""
        name = (f"depth_{spec.variant}{tag}_{in_hw[0]}x{in_hw[1]}_to_{height}x{width}_{weights_tag(weights)}"
                f"_v{EXPORT_VERSION}")
        batch = opt["depth_batch"]
        profiles = {"pixel_values": ((1, 3, *in_hw), (batch, 3, *in_hw), (batch, 3, *in_hw))}
        return Graph(name, "depth", ("pixel_values",), ("disparity",), export, module, profiles, {"input_hw": in_hw})

    return single("depth", graph)


class OfficialFeatureExtractor:
    """:class:`~motionseg_trt.contracts.FeatureExtractor` of the official model set."""

    OPTIONS = OPTIONS

    def __init__(self, config: RunConfig, log: Optional[Callable[[str], None]] = None):
        self.config = config
        # exports on a first run take a while: say so (``motionseg-trt build`` does it ahead of time)
        self.log = log or (lambda msg: print(f"motionseg-trt: {msg}", file=sys.stderr))
        opt = read_options(config, OPTIONS)
        self.depth_batch = opt["depth_batch"]
        self.dino_batch = opt["dino_batch"]
        self.dino_stride = opt["dino_stride"]
        # the official pipeline stores DINO maps as float16 and casts back: do the same for parity
        self.dino_f16_roundtrip = opt["dino_f16_roundtrip"]
        self._size = None
        self._depth = self._dino = None
        self._depth_seen: dict[int, np.ndarray] = {}
        self._dino_seen: dict[int, np.ndarray] = {}
        # fail early (before decoding) on missing weights
        _weights(config, DINO_WEIGHTS[opt["dino_variant"]], opt["dino_weights"])
        _weights(config, DEPTH_WEIGHTS[opt["depth_variant"]], opt["depth_weights"])

    @classmethod
    def network_specs(cls, config: RunConfig, frame_hw) -> list[NetworkSpec]:
        return [dino_network(config, *frame_hw), depth_network(config, *frame_hw)]

    @classmethod
    def weight_needs(cls, config: RunConfig) -> list:
        """The DINOv2 and Depth-Anything-V2 files :func:`_weights` will load."""
        from ..official_weights import WeightNeed

        opt = read_options(config, OPTIONS)
        random = read_option(config, ENGINE_OPTIONS, "random_weights")
        needs = []
        for key, table, role in (("dino", DINO_WEIGHTS, "DINOv2 features"), ("depth", DEPTH_WEIGHTS, "Depth-Anything-V2")):
            explicit = opt[f"{key}_weights"]
            if explicit or not random:
                variant = opt[f"{key}_variant"]
                needs.append(WeightNeed(f"{role} ({variant})", table[variant], explicit,
                                        f"--option {key}_weights=PATH"))
        return needs

    # -- runners, per working resolution ------------------------------------------------------------
    def _runners(self, height: int, width: int):
        if self._size != (height, width):
            for r in (self._depth, self._dino):
                if r is not None:
                    r.deactivate()
            from ..runtime.dispatch import make_runner

            depth, dino = depth_network(self.config, height, width), dino_network(self.config, height, width)
            self.depth_graph, self.dino_graph = depth.graph(), dino.graph()
            self._depth = make_runner(self.config, depth, self.log).activate()
            self._dino = make_runner(self.config, dino, self.log).activate()
            self._size = (height, width)
            self._depth_seen.clear()
            self._dino_seen.clear()
        return self._depth, self._dino

    # -- the stage ------------------------------------------------------------------------------------
    def extract(self, window: FrameWindow, tracks: Tracks) -> WindowFeatures:
        frames = window.frames
        T, H, W = frames.shape[:3]
        self._runners(H, W)
        depth = self._depth_maps(frames, window.start)
        if tracks.num_tracks:
            qf = np.unique(np.asarray(tracks.query_frame, np.int64))
        else:
            qf = np.zeros(0, np.int64)
        dino = self._dino_maps(frames, window.start, qf)
        # keep only what the next window shares with this one (bounded memory)
        next_start = window.start + T if window.is_last else window.start + max(1, int(self.config.stride))
        self._depth_seen = {g: m for g, m in self._depth_seen.items() if g >= next_start}
        self._dino_seen = {g: m for g, m in self._dino_seen.items() if g >= next_start}
        return WindowFeatures(depth=depth, dino=dino, dino_frames=qf)

    def _depth_maps(self, frames: np.ndarray, start: int) -> np.ndarray:
        from .depth import preprocess_depth

        T, H, W = frames.shape[:3]
        out = np.empty((T, H, W), np.float32)
        todo = [i for i in range(T) if (start + i) not in self._depth_seen]
        for i in range(T):
            if (start + i) in self._depth_seen:
                out[i] = self._depth_seen[start + i]
        in_hw = self.depth_graph.info["input_hw"]
        for c in range(0, len(todo), self.depth_batch):
            idx = todo[c:c + self.depth_batch]
            res = self._depth.infer({"pixel_values": preprocess_depth(frames[idx], in_hw)})["disparity"]
            for j, i in enumerate(idx):
                out[i] = res[j]
                self._depth_seen[start + i] = res[j]
        return out

    def _dino_maps(self, frames: np.ndarray, start: int, query_frames: np.ndarray) -> np.ndarray:
        from .dino import dino_grid, preprocess_dino

        in_hw = self.dino_graph.info["input_hw"]
        h, w = dino_grid(*in_hw, stride=self.dino_stride)
        out = np.empty((len(query_frames), h, w, self.dino_graph.info["dim"]), np.float32)
        todo = [int(q) for q in query_frames if (start + int(q)) not in self._dino_seen]
        for c in range(0, len(todo), self.dino_batch):
            idx = todo[c:c + self.dino_batch]
            res = self._dino.infer({"pixel_values": preprocess_dino(frames[idx], in_hw)})["dino_keys"]
            if self.dino_f16_roundtrip:
                res = res.astype(np.float16).astype(np.float32)
            for j, q in enumerate(idx):
                self._dino_seen[start + q] = res[j]
        for k, q in enumerate(query_frames):
            out[k] = self._dino_seen[start + int(q)]
        return out

    def close(self) -> None:
        for r in (self._depth, self._dino):
            if r is not None:
                r.deactivate()
