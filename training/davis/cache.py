"""The engine's stages over a DAVIS-layout clip, once: what every later training step reads.

Per clip an ``.npz``: for each streaming window (as ``motionseg-trt run`` cuts them) the flow tracker's
tracks, the geometric labeller's probabilities, the camera-residual evidence and the appearance stage's
key-frame maps; the saliency map of every frame; the ground truth under each track is read from the
masks when needed. The cache name hashes the settings that change these, so changed stages never
reuse stale data.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

WINDOW, STRIDE = 32, 16  # the engine's defaults


@dataclass
class Window:
    """One streaming window of a clip, as the stages saw it."""

    index: int
    start: int
    emit_from: int
    length: int
    tracks: object  # motionseg_trt.contracts.Tracks
    geometric: np.ndarray  # [N] probability
    residual: np.ndarray  # [N, T] camera-model residual (the classifier's depth slot)
    prior_logit: np.ndarray  # [N] geometric logit
    dino: np.ndarray  # [Q, h, w, C] key-frame maps
    dino_frames: np.ndarray  # [Q] local frames


@dataclass
class ClipCache:
    name: str
    clip: Path
    masks: Path
    windows: list[Window]
    saliency: np.ndarray  # [T, h, w] float32
    work_hw: tuple[int, int]

    def ground_truth(self) -> np.ndarray:
        """``[T, H, W]`` bool, at the masks' size."""
        files = sorted(self.masks.glob("*.png"))
        return np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) > 0 for f in files])

    def frames(self) -> np.ndarray:
        import av

        with av.open(str(self.clip)) as container:
            return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def sequences(data: Path) -> list[Path]:
    """The clips of a DAVIS-layout folder (``<seq>/clip.mp4`` with ``<seq>/masks/``), sorted by name."""
    found = sorted(p for p in Path(data).iterdir() if (p / "clip.mp4").is_file() and (p / "masks").is_dir())
    if not found:
        raise FileNotFoundError(f"{data}: no <seq>/clip.mp4 with <seq>/masks/ in this folder")
    return found


def settings(extra: Optional[dict] = None) -> dict:
    """What decides the cached data besides the clip."""
    from motionseg_trt.features.appearance.networks import EXPORT_VERSION
    from motionseg_trt.features.appearance.stage import OPTIONS as APPEARANCE_OPTIONS
    from motionseg_trt.tracks.flow_tracker import defaults_signature

    extra = dict(extra or {})
    appearance = {o.name: extra.pop(o.name, o.default) for o in APPEARANCE_OPTIONS}  # as the run uses them
    return {"tracker": defaults_signature(), "appearance": appearance, "appearance_export": EXPORT_VERSION,
            "window": WINDOW, "stride": STRIDE, "extra": extra, "v": 2}


def cache_path(cache_dir: Path, seq: Path, extra: Optional[dict] = None) -> Path:
    tag = hashlib.sha1(json.dumps(settings(extra), sort_keys=True, default=str).encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{seq.name}-{tag}.npz"


def build(seq: Path, cache_dir: Path, threads: int = 1, extra: Optional[dict] = None) -> Path:
    """Run the stages over ``seq`` (unless cached) and return the cache file."""
    path = cache_path(cache_dir, seq, extra)
    if path.is_file():
        return path
    from motionseg_trt.config import RunConfig
    from motionseg_trt.features.appearance.stage import AppearanceFeatures
    from motionseg_trt.io.decode import open_frames
    from motionseg_trt.io.windows import VideoSource
    from motionseg_trt.motion.geometric import GeometricLabeller
    from motionseg_trt.motion.residual_features import camera_residual_evidence
    from motionseg_trt.tracks.flow_tracker import FlowTracker

    config = RunConfig(window=WINDOW, stride=STRIDE, threads=threads, extra=dict(extra or {}))
    tracker, appearance, geometric = FlowTracker(config), AppearanceFeatures(config), GeometricLabeller(config)
    arrays: dict[str, np.ndarray] = {}
    windows, saliency = [], {}
    reader = open_frames(str(seq / "clip.mp4"), threads=threads)
    try:
        for w in VideoSource(reader, WINDOW, STRIDE, offline=False, prefetch=0):
            tracks = tracker.track(w)
            feats = appearance.extract(w, tracks)
            hw = w.frames.shape[1:3]
            labels = geometric.label(w, tracks, feats)
            evidence = camera_residual_evidence(tracks, hw, labeller=geometric)
            k = w.index
            arrays.update({f"xy{k}": tracks.xy, f"vis{k}": tracks.visible, f"conf{k}": tracks.confidence,
                           f"ids{k}": tracks.ids, f"q{k}": tracks.query_frame, f"geo{k}": labels.prob,
                           f"res{k}": evidence.residual, f"prior{k}": evidence.prior_logit,
                           f"dino{k}": feats.dino.astype(np.float16), f"dinof{k}": feats.dino_frames})
            windows.append((w.start, w.emit_from, w.length))
            for local in range(w.length):
                saliency[w.start + local] = feats.saliency[local]
            work_hw = hw
    finally:
        reader.close()
    arrays["windows"] = np.asarray(windows, np.int64)
    arrays["saliency"] = np.stack([saliency[t] for t in range(len(saliency))]).astype(np.float16)
    arrays["work_hw"] = np.asarray(work_hw, np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load(seq: Path, cache_dir: Path, extra: Optional[dict] = None) -> ClipCache:
    from motionseg_trt.contracts import Tracks

    with np.load(cache_path(cache_dir, seq, extra)) as z:
        windows = []
        for k, (start, emit_from, length) in enumerate(z["windows"]):
            tracks = Tracks(xy=z[f"xy{k}"], visible=z[f"vis{k}"], confidence=z[f"conf{k}"], ids=z[f"ids{k}"],
                            query_frame=z[f"q{k}"])
            windows.append(Window(k, int(start), int(emit_from), int(length), tracks, z[f"geo{k}"], z[f"res{k}"],
                                  z[f"prior{k}"], z[f"dino{k}"], z[f"dinof{k}"]))
        return ClipCache(seq.name, seq / "clip.mp4", seq / "masks", windows, z["saliency"].astype(np.float32),
                         tuple(int(v) for v in z["work_hw"]))


def iter_windows(cache: ClipCache, frames: np.ndarray) -> Iterator[tuple[object, Window]]:
    """``(FrameWindow, Window)`` pairs, rebuilding the windows the stages saw from the decoded frames."""
    from motionseg_trt.contracts import FrameWindow

    last = len(cache.windows) - 1
    for w in cache.windows:
        yield FrameWindow(w.index, w.start, frames[w.start:w.start + w.length], w.emit_from, w.index == last), w
