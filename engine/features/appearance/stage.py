"""The appearance features stage: saliency for every frame, backbone maps for the key frames.

Key frames are every ``appearance_every``-th frame of the video (global index), so overlapping windows
share them and each frame goes through each network at most once. On a key frame U²-Netp gives the
salient-object map and EfficientNet-Lite0 the backbone features; the frames in between get the last
map carried along the tracker's flow (:mod:`.propagate`), which costs a remap instead of a network
run. A tracker without dense flow (BootsTAPIR) leaves the map where it was.

Output (:class:`~motionseg_trt.contracts.WindowFeatures`): ``saliency [T, h, w]`` at the saliency
network's input size, and ``dino [Q, h', w', 433]`` / ``dino_frames [Q]``: the key frames' backbone
features (432 channels on the stride-16 grid) with their saliency (area-averaged onto that grid) as the
last channel, which the learned labeller samples under each track (the paper's DINO slot).
"""
from __future__ import annotations

import sys
from typing import Callable, Optional

import cv2
import numpy as np

from ...config import RunConfig
from ...contracts import FrameWindow, Tracks, WindowFeatures
from ...errors import OptionError
from ...options import Option, read_options
from ...stages import stage
from ...runtime.network import NetworkSpec
from .networks import backbone_network, backbone_size, saliency_network, saliency_size
from .preprocess import backbone_input, normalise_saliency, saliency_input
from .propagate import warp_to_next

OPTIONS = (
    Option("appearance_every", 8, "run the appearance networks on every N-th frame; the frames between get "
                                  "the maps carried along the flow", minimum=1),
    Option("saliency_side", 160, "shorter side of U²-Netp's input (multiples of 32 are used)", minimum=32),
    Option("backbone_side", 256, "shorter side of EfficientNet-Lite0's input (multiples of 32 are used)", minimum=32),
)


def appearance_networks(config: RunConfig, frame_hw) -> list[NetworkSpec]:
    opt = read_options(config, OPTIONS)
    h, w = int(frame_hw[0]), int(frame_hw[1])
    return [saliency_network(saliency_size(h, w, opt["saliency_side"])),
            backbone_network(backbone_size(h, w, opt["backbone_side"]))]


class AppearanceFeatures:
    """:class:`~motionseg_trt.contracts.FeatureExtractor` of the embedded set's appearance cues."""

    OPTIONS = OPTIONS

    def __init__(self, config: RunConfig, log: Optional[Callable[[str], None]] = None):
        from .packaged import EFFICIENTNET_LITE0, U2NETP, locate

        self.config = config
        self.log = log or (lambda msg: print(f"motionseg-trt: {msg} (first run only; `motionseg-trt build` "
                                             f"does it ahead)", file=sys.stderr))
        opt = read_options(config, OPTIONS)
        self.every = opt["appearance_every"]
        # the backbone maps are read by the appearance labeller only (the densifier reads saliency)
        self.with_backbone = stage("labeller", config.motion_model).needs == "appearance"
        locate(U2NETP)  # a missing package fails now, not at the first window
        if self.with_backbone:
            locate(EFFICIENTNET_LITE0)
        self._size: Optional[tuple[int, int]] = None
        self._saliency = self._backbone = None
        self._maps: dict[int, np.ndarray] = {}  # global frame -> saliency map
        self._semantic: dict[int, np.ndarray] = {}  # global key frame -> [h', w', 433]
        self._worker = None  # the thread of begin()
        self._pending = None  # (window start, future of its key frames)

    @classmethod
    def network_specs(cls, config: RunConfig, frame_hw) -> list[NetworkSpec]:
        return appearance_networks(config, frame_hw)

    def _runners(self, height: int, width: int) -> None:
        if self._size == (height, width):
            return
        from ...runtime.dispatch import make_runner

        for runner in (self._saliency, self._backbone):
            if runner is not None:
                runner.deactivate()
        sal, bb = appearance_networks(self.config, (height, width))
        self.saliency_hw = sal.graph().info["input_hw"]
        self.backbone_hw = bb.graph().info["input_hw"] if self.with_backbone else None
        self._saliency = make_runner(self.config, sal, self.log).activate()
        self._backbone = make_runner(self.config, bb, self.log).activate() if self.with_backbone else None
        self._size = (height, width)
        self._maps.clear()
        self._semantic.clear()

    def begin(self, window: FrameWindow) -> None:
        """Start the window's key frames on a worker thread, so that the networks run while the tracker
        does (both release the GIL; on two cores this is most of the stage's cost hidden)."""
        from concurrent.futures import ThreadPoolExecutor

        self._runners(*window.frames.shape[1:3])
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="appearance")
        self._pending = (window.start, self._worker.submit(self._key_frames, window))

    def extract(self, window: FrameWindow, tracks: Tracks) -> WindowFeatures:
        frames = window.frames
        length, height, width = frames.shape[:3]
        self._runners(height, width)
        start = window.start
        pending, self._pending = self._pending, None
        computed = pending[1].result() if pending and pending[0] == start else self._key_frames(window)
        for g, (sal, semantic) in computed.items():
            self._maps[g], self._semantic[g] = sal, semantic
        for local in range(length):
            g = start + local
            if g in self._maps:
                continue
            if tracks.flow_back is not None:
                self._maps[g] = warp_to_next(self._maps[g - 1], tracks.flow_back[local], (height, width))
            else:
                self._maps[g] = self._maps[g - 1]
        saliency = np.stack([self._maps[start + local] for local in range(length)])
        out = WindowFeatures(saliency=saliency)
        if self.with_backbone:
            keys = [local for local in range(length) if (start + local) in self._semantic]
            out.dino = np.stack([self._semantic[start + k] for k in keys]).astype(np.float32)
            out.dino_frames = np.asarray(keys, np.int64)
        self._forget_before(start + length if window.is_last else start + max(1, int(self.config.stride)))
        return out

    def reset(self) -> None:
        """A new scene: nothing is carried over a cut (its first frame is a key frame)."""
        if self._pending is not None:
            self._pending[1].result()  # let the worker finish before its results are dropped
        self._pending = None
        self._maps.clear()
        self._semantic.clear()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    def _key_frames(self, window: FrameWindow) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The window's new key frames: every ``every``-th frame, its first frame when the frame before
        it has no map (the start of the video), and its first new frame when it would hold none (a
        window shorter than ``every``): the labeller reads the backbone maps of at least one."""
        out = {}
        new = [local for local in range(window.frames.shape[0]) if window.start + local not in self._maps]
        for local in new:
            g = window.start + local
            if g % self.every == 0 or (local == 0 and (g - 1) not in self._maps):
                out[g] = self._key_frame(window.frames[local])
        held = any(window.start + local in self._semantic for local in range(window.frames.shape[0]))
        if not out and not held and new:
            out[window.start + new[0]] = self._key_frame(window.frames[new[0]])
        return out

    def _key_frame(self, frame: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        sal = self._saliency.infer({"image": saliency_input(frame[None], self.saliency_hw)})["saliency"]
        sal = normalise_saliency(sal[:, 0])[0]
        if self._backbone is None:
            return sal, None
        feats = self._backbone.infer({"image": backbone_input(frame[None], self.backbone_hw)})["features"][0]
        grid = feats.shape[1:]
        sal_grid = cv2.resize(sal, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
        return sal, np.concatenate([feats.transpose(1, 2, 0), sal_grid[..., None]], -1).astype(np.float16)

    def _forget_before(self, next_start: int) -> None:
        """Keep what the next window shares with this one, and the frame before it (the flow's source)."""
        self._maps = {g: m for g, m in self._maps.items() if g >= next_start - 1}
        self._semantic = {g: m for g, m in self._semantic.items() if g >= next_start}
