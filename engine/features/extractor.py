"""The official model set's feature stage: Depth-Anything-V2 disparity for every frame of a window
and DINOv2 key maps for the tracks' query frames, through the configured runtime backend.

Options (``RunConfig.extra``): ``dino_variant`` (vitb14 | vits14), ``dino_stride`` (7),
``dino_layer`` (11), ``depth_variant`` (small | large), ``depth_batch`` (frames per depth call, 4), ``dino_batch`` (1),
``dino_weights`` / ``depth_weights`` (local paths, else the downloaded files), ``random_weights``
(plumbing tests only; an explicit path still wins), ``dino_layers`` / ``depth_layers`` (shrunk test networks).

Overlapping windows share frames: maps already computed for a global frame index are reused, so in
streaming each frame goes through each network once.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional

import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, Tracks, WindowFeatures
from ..runtime.networks import NetworkSpec, make_network_runner, weights_tag
from ..official_weights import DEPTH_WEIGHTS, DINO_WEIGHTS, resolve_weight


# Query frames are sparse (every 10th frame officially), so batching DINO gains little, while a graph
# without a fused attention kernel (ONNX Runtime CPU) holds a heads x tokens^2 matrix per image:
# 12 x 8350^2 floats = 3.3 GB at 854x480 with stride 7.
DINO_BATCH = 1
# part of the exported files' names: bump when the graphs change, so old exports are not reused
EXPORT_VERSION = 1
DEPTH_BATCH = 4


def _opt(config: RunConfig, key: str, default=None):
    return (config.extra or {}).get(key, default)


def _weights(config: RunConfig, registry_name: str, explicit_key: str) -> Optional[str]:
    """An explicit path, else None for random weights, else the downloaded file (or a clear error)."""
    explicit = _opt(config, explicit_key)
    if not explicit and _opt(config, "random_weights", False):
        return None
    return resolve_weight(registry_name, explicit, config.weights_dir)


def dino_network(config: RunConfig, height: int, width: int) -> NetworkSpec:
    """The DINO key-feature network of ``config`` for a working resolution (build CLI and stage)."""
    from .dino import DINO_VARIANTS, DinoSpec, dino_input_size

    spec = DinoSpec(_opt(config, "dino_variant", "vitb14"), int(_opt(config, "dino_stride", 7)),
                    int(_opt(config, "dino_layer", 11)))
    weights = _weights(config, DINO_WEIGHTS[spec.variant], "dino_weights")
    layers = _opt(config, "dino_layers")
    in_hw = dino_input_size(height, width)

    def build():
        from .dino import build_dino_key_features

        return build_dino_key_features(height, width, spec, weights=weights, num_layers=layers, seed=0)

    def export(path, fp16):
        from motionseg_trt.export.dino import export_dino

        return export_dino(path, height, width, fp16=fp16, module=build())

    tag = f"L{layers}" if layers else ""
    name = (f"dino_{spec.variant}{tag}_s{spec.stride}_k{spec.layer}_{height}x{width}_{weights_tag(weights)}"
            f"_v{EXPORT_VERSION}")
    batch = int(_opt(config, "dino_batch", DINO_BATCH))
    profiles = {"pixel_values": ((1, 3, *in_hw), (1, 3, *in_hw), (batch, 3, *in_hw))}
    info = {"dim": DINO_VARIANTS[spec.variant]["hidden_size"], "input_hw": in_hw}
    return NetworkSpec(name, ("pixel_values",), ("dino_keys",), build, export, profiles, info)


def depth_network(config: RunConfig, height: int, width: int) -> NetworkSpec:
    from .depth import DepthSpec, depth_input_size

    spec = DepthSpec(_opt(config, "depth_variant", "small"), int(_opt(config, "depth_side", 518)))
    weights = _weights(config, DEPTH_WEIGHTS[spec.variant], "depth_weights")
    layers = _opt(config, "depth_layers")
    in_hw = depth_input_size(height, width, spec.side)

    def build():
        from .depth import build_depth_disparity

        return build_depth_disparity(height, width, spec, weights=weights, num_layers=layers, seed=0)

    def export(path, fp16):
        from motionseg_trt.export.depth import export_depth

        return export_depth(path, height, width, fp16=fp16, module=build())

    tag = f"L{layers}" if layers else ""
    name = (f"depth_{spec.variant}{tag}_{in_hw[0]}x{in_hw[1]}_to_{height}x{width}_{weights_tag(weights)}"
            f"_v{EXPORT_VERSION}")
    batch = int(_opt(config, "depth_batch", DEPTH_BATCH))
    profiles = {"pixel_values": ((1, 3, *in_hw), (batch, 3, *in_hw), (batch, 3, *in_hw))}
    return NetworkSpec(name, ("pixel_values",), ("disparity",), build, export, profiles, {"input_hw": in_hw})


class OfficialFeatureExtractor:
    """:class:`~motionseg_trt.contracts.FeatureExtractor` of the official model set."""

    def __init__(self, config: RunConfig, log: Optional[Callable[[str], None]] = None):
        self.config = config
        # exports on a first run take a while: say so (``motionseg-trt build`` does it ahead of time)
        self.log = log or (lambda msg: print(f"motionseg-trt: {msg}", file=sys.stderr))
        self.depth_batch = int(_opt(config, "depth_batch", DEPTH_BATCH))
        self.dino_batch = int(_opt(config, "dino_batch", DINO_BATCH))
        # the official pipeline stores DINO maps as float16 and casts back: do the same for parity
        self.dino_f16_roundtrip = bool(_opt(config, "dino_f16_roundtrip", True))
        self._size = None
        self._depth = self._dino = None
        self._depth_seen: dict[int, np.ndarray] = {}
        self._dino_seen: dict[int, np.ndarray] = {}
        # fail early (before decoding) on a bad option or missing weights
        dino_variant = _opt(config, "dino_variant", "vitb14")
        depth_variant = _opt(config, "depth_variant", "small")
        if dino_variant not in DINO_WEIGHTS or depth_variant not in DEPTH_WEIGHTS:
            raise ValueError(f"dino_variant must be one of {sorted(DINO_WEIGHTS)} and depth_variant one of "
                             f"{sorted(DEPTH_WEIGHTS)}; got {dino_variant!r}, {depth_variant!r}")
        _weights(config, DINO_WEIGHTS[dino_variant], "dino_weights")
        _weights(config, DEPTH_WEIGHTS[depth_variant], "depth_weights")
        if config.backend == "trt":  # say it before any output is written, not at the first window
            from ..runtime.tensorrt import import_tensorrt

            import_tensorrt(builder=False)

    # -- runners, per working resolution ------------------------------------------------------------
    def _runners(self, height: int, width: int):
        if self._size != (height, width):
            for r in (self._depth, self._dino):
                if r is not None:
                    r.deactivate()
            self.depth_spec = depth_network(self.config, height, width)
            self.dino_spec = dino_network(self.config, height, width)
            self._depth = make_network_runner(self.config, self.depth_spec, self.log).activate()
            self._dino = make_network_runner(self.config, self.dino_spec, self.log).activate()
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
        in_hw = self.depth_spec.info["input_hw"]
        for c in range(0, len(todo), self.depth_batch):
            idx = todo[c:c + self.depth_batch]
            res = self._depth.infer({"pixel_values": preprocess_depth(frames[idx], in_hw)})["disparity"]
            for j, i in enumerate(idx):
                out[i] = res[j]
                self._depth_seen[start + i] = res[j]
        return out

    def _dino_maps(self, frames: np.ndarray, start: int, query_frames: np.ndarray) -> np.ndarray:
        from .dino import dino_grid, preprocess_dino

        in_hw = self.dino_spec.info["input_hw"]
        h, w = dino_grid(*in_hw, stride=int(_opt(self.config, "dino_stride", 7)))
        out = np.empty((len(query_frames), h, w, self.dino_spec.info["dim"]), np.float32)
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
