"""Training data: the engine's own tracker run on generated clips, labelled from ground truth.

Each generated clip is tracked exactly as the streaming engine tracks a video (``FlowTracker`` fed
sliding windows), so training sees the tracker's real noise: drift, early ends, re-seeding. A track's
label is the GT moving-object mask under the track at its query frame (as the paper labels its
training tracks). Windows are cached in compressed ``.npz`` shards, one per ``shard_size`` clips.

Shard layout (arrays concatenated over windows; ``offsets[i]:offsets[i+1]`` are window i's tracks):
``xy [M,T,2] float32`` pixels, ``visible [M,T] bool``, ``confidence [M,T] float16``,
``query [M] int16``, ``label [M] bool``, ``instance [M] uint8`` (GT object under the track, 0 = bg),
``offsets [W+1] int64``, ``clip_seed [W]``, ``window_start [W]``, ``image_hw [2]``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow, Tracks
from .synth import SceneConfig, generate_clip


# Bump when .synth changes what a seed renders (invalidates cached datasets).
GENERATOR_VERSION = 2


@dataclass
class WindowSample:
    """One window of one clip: the tracker's tracks and their GT labels."""

    xy: np.ndarray  # [N, T, 2] float32 pixels
    visible: np.ndarray  # [N, T] bool
    confidence: np.ndarray  # [N, T] float32
    query: np.ndarray  # [N] int64
    label: np.ndarray  # [N] bool, moves on its own
    instance: np.ndarray  # [N] uint8, GT instance at the query frame
    image_hw: tuple
    clip_seed: int = 0
    window_start: int = 0
    evidence: object = None  # CameraResidualEvidence, attached by attach_camera_residuals (not cached)

    @property
    def tracks(self) -> Tracks:
        n = self.xy.shape[0]
        return Tracks(xy=self.xy, visible=self.visible, confidence=self.confidence,
                      ids=np.arange(n, dtype=np.int64), query_frame=self.query)


@dataclass
class DataConfig:
    width: int = 320
    height: int = 180
    window: int = 32  # the engine's default window and stride
    stride: int = 16
    windows_per_clip: int = 2  # clip length = window + (windows_per_clip - 1) * stride
    max_tracks: int = 1024  # tracks kept per window in the cache (random subset)
    tracker: dict = field(default_factory=dict)  # RunConfig.extra overrides for FlowTracker
    scene: dict = field(default_factory=dict)  # SceneConfig overrides (e.g. dominant_p, water_p)
    generator_version: int = GENERATOR_VERSION  # part of the cache key: bump when the generator changes

    @property
    def clip_frames(self) -> int:
        return self.window + (self.windows_per_clip - 1) * self.stride

    def key(self) -> str:
        """Names the cached dataset: this configuration and the embedded tracker's defaults (a tracker
        that changed makes other tracks, so its old datasets are not reused)."""
        from motionseg_trt.tracks.flow_tracker import defaults_signature

        d = asdict(self)
        if not d["scene"]:  # the generator's defaults
            del d["scene"]
        d["tracker_defaults"] = defaults_signature()
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def track_clip(seed: int, cfg: DataConfig) -> list[WindowSample]:
    """Render clip ``seed``, run the embedded tracker over its sliding windows, label the tracks."""
    from motionseg_trt.tracks.flow_tracker import FlowTracker

    clip = generate_clip(seed, SceneConfig(width=cfg.width, height=cfg.height, num_frames=cfg.clip_frames,
                                           **cfg.scene))
    tracker = FlowTracker(RunConfig(window=cfg.window, stride=cfg.stride, extra=dict(cfg.tracker)))
    rng = np.random.default_rng([seed, 7])
    out = []
    for w in range(cfg.windows_per_clip):
        start = w * cfg.stride
        frames = clip.frames[start:start + cfg.window]
        window = FrameWindow(index=w, start=start, frames=frames, emit_from=0 if w == 0 else cfg.window - cfg.stride,
                             is_last=w == cfg.windows_per_clip - 1)
        tr = tracker.track(window)
        keep = np.flatnonzero(tr.visible.any(1))
        if len(keep) > cfg.max_tracks:
            keep = np.sort(rng.choice(keep, cfg.max_tracks, replace=False))
        xy, q = tr.xy[keep], tr.query_frame[keep].astype(np.int64)
        n = np.arange(len(keep))
        inst = clip.instance_at(xy[n, q], q + start)
        label = np.isin(inst, np.asarray(clip.moving_ids, np.int64))
        out.append(WindowSample(xy=xy.astype(np.float32), visible=tr.visible[keep], confidence=tr.confidence[keep],
                                query=q, label=label, instance=inst.astype(np.uint8),
                                image_hw=(cfg.height, cfg.width), clip_seed=seed, window_start=start))
    return out


def _temporary(path: Path) -> Path:
    """Where to write ``path`` before renaming it into place; named by process so that two training
    runs filling the same cache never write into one file."""
    return path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")


def _write_shard(path: Path, samples: list[WindowSample]) -> None:
    offsets = np.cumsum([0] + [len(s.label) for s in samples]).astype(np.int64)
    arrays = dict(
        xy=np.concatenate([s.xy for s in samples]).astype(np.float32),
        visible=np.concatenate([s.visible for s in samples]),
        confidence=np.concatenate([s.confidence for s in samples]).astype(np.float16),
        query=np.concatenate([s.query for s in samples]).astype(np.int16),
        label=np.concatenate([s.label for s in samples]),
        instance=np.concatenate([s.instance for s in samples]),
        offsets=offsets,
        clip_seed=np.array([s.clip_seed for s in samples], np.int64),
        window_start=np.array([s.window_start for s in samples], np.int64),
        image_hw=np.array(samples[0].image_hw, np.int64),
    )
    tmp = _temporary(path)
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)  # a crash never leaves a half-written shard that looks complete


def _read_cached(path: Path, read):
    """``read(path)``, or None when the cache file is absent or unreadable (truncated, foreign, or holding
    pickled objects, which are never loaded): the caller makes it again."""
    if not path.exists():
        return None
    try:
        return read(path)
    except (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        print(f"motionseg-trt: note: the cached training data {path} is unreadable ({reason}); making it again",
              file=sys.stderr, flush=True)
        with contextlib.suppress(OSError):
            path.unlink()
        return None


def read_shard(path: Path) -> list[WindowSample]:
    with np.load(path) as f:
        z = {k: f[k] for k in f.files}  # each access of an NpzFile key decompresses it again
    off = z["offsets"]
    hw = tuple(int(v) for v in z["image_hw"])
    conf = z["confidence"].astype(np.float32)
    query = z["query"].astype(np.int64)
    out = []
    for i in range(len(off) - 1):
        a, b = int(off[i]), int(off[i + 1])
        out.append(WindowSample(xy=z["xy"][a:b], visible=z["visible"][a:b], confidence=conf[a:b],
                                query=query[a:b], label=z["label"][a:b], instance=z["instance"][a:b],
                                image_hw=hw, clip_seed=int(z["clip_seed"][i]), window_start=int(z["window_start"][i])))
    return out


def build_dataset(cache_dir: str | Path, seeds: list[int], cfg: DataConfig, shard_size: int = 25,
                  progress: bool = True) -> list[WindowSample]:
    """Windows of the clips ``seeds``, from the cache when present (shards are keyed by the data
    configuration and their seeds, so a changed generator setting never reuses stale data)."""
    import cv2

    cv2.setNumThreads(1)
    root = Path(cache_dir) / f"data-{cfg.key()}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    samples: list[WindowSample] = []
    chunks = [seeds[i:i + shard_size] for i in range(0, len(seeds), shard_size)]
    for k, chunk in enumerate(chunks):
        path = root / f"seeds-{chunk[0]}-{chunk[-1]}-{len(chunk)}.npz"
        shard = _read_cached(path, read_shard)
        if shard is None:
            part: list[WindowSample] = []
            for s in chunk:
                part += track_clip(s, cfg)
            _write_shard(path, part)
            shard = read_shard(path)
        samples += shard
        if progress:
            print(f"  data: shard {k + 1}/{len(chunks)} ({len(samples)} windows)", flush=True)
    return samples


def _read_evidence(path: Path, stabilise: bool):
    """A cached :class:`CameraResidualEvidence`, or None when it lacks the stabilised tracks asked for."""
    from motionseg_trt.motion.residual_features import CameraResidualEvidence

    with np.load(path) as z:  # allow_pickle=False (the default): object arrays are refused
        if stabilise and "stabilised_xy" not in z.files:
            return None
        return CameraResidualEvidence(residual=z["residual"], prior_logit=z["prior_logit"],
                                      stabilised_xy=z["stabilised_xy"] if stabilise else None)


def attach_camera_residuals(samples: list[WindowSample], cache_dir: Optional[str | Path] = None,
                            cfg: Optional[DataConfig] = None, stabilise: bool = False) -> None:
    """Compute every window's camera-residual evidence (the geometric labeller's per-frame residuals and
    prior logit, and with ``stabilise`` the camera-stabilised tracks;
    :mod:`motionseg_trt.motion.residual_features`) on all its cached tracks, as the learned labeller
    does at inference. With ``cache_dir`` (and the data ``cfg``) each window's evidence is kept on
    disk, keyed by the data configuration and the geometric labeller's defaults."""
    import cv2

    from motionseg_trt.motion import geometric
    from motionseg_trt.options import defaults_of
    from motionseg_trt.motion.residual_features import CameraResidualEvidence, camera_residual_evidence

    cv2.setNumThreads(1)
    geo = geometric.GeometricLabeller()
    root = None
    if cache_dir is not None and cfg is not None:
        geo_key = hashlib.sha1(json.dumps(defaults_of(geometric.OPTIONS), sort_keys=True).encode()).hexdigest()[:10]
        root = Path(cache_dir) / f"data-{cfg.key()}" / f"evidence-{geo_key}"
        root.mkdir(parents=True, exist_ok=True)
    for s in samples:
        if s.evidence is not None and (s.evidence.stabilised_xy is not None or not stabilise):
            continue
        path = root / f"{s.clip_seed}-{s.window_start}-{len(s.label)}.npz" if root is not None else None
        if path is not None and path.is_file():
            cached = _read_cached(path, lambda p: _read_evidence(p, stabilise))
            if cached is not None:
                s.evidence = cached
                continue
        ev = camera_residual_evidence(s.tracks, s.image_hw, labeller=geo, stabilise=True)
        # residuals stored as float16: rounded the same way whether computed now or read from the cache
        s.evidence = CameraResidualEvidence(residual=ev.residual.astype(np.float16), prior_logit=ev.prior_logit,
                                            stabilised_xy=ev.stabilised_xy if stabilise else None)
        if path is not None:
            tmp = _temporary(path)
            np.savez_compressed(tmp, residual=s.evidence.residual, prior_logit=s.evidence.prior_logit,
                                stabilised_xy=ev.stabilised_xy)
            os.replace(tmp, path)
