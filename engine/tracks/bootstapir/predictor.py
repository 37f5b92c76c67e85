"""``BootsTapirTracker``: the official stack's point tracker as a streaming :class:`Tracker` stage.

Stable interface (used by :func:`motionseg_trt.official.build_stages`)::

    tracker = BootsTapirTracker(config)          # config: RunConfig
    tracks = tracker.track(window)               # FrameWindow -> Tracks

What one window does, following the official SegAnyMo preprocessing (SPEC.md section 2.1 of the
classifier fixture):

1. frames are resized to 256x256 and scaled to [-1, 1]; per-frame features are computed once per
   frame (the features of frames shared with the previous window are reused);
2. queries: a grid of spacing ``g = max(1, floor(sqrt(H*W / 9000)))`` working-resolution pixels on
   every 10th frame (global index multiple of ``tracker_query_stride``); from each query frame a
   seeded random ``int(M_q / Q)`` of its ``M_q`` grid points is drawn (``Q`` = query frames per window)
   *before* tracking (the official draws after tracking; drawing first gives the same distribution and
   tracks only what is kept), and at most ``tracker_max_tracks`` (5000) tracks are kept;
3. streaming: each track of the previous window that is visible somewhere in the overlap is carried:
   it is queried again at its last visible overlap frame, from its position there, and keeps its id;
4. the network runs in fixed-size chunks of queries (``tracker_query_chunk``, the exported graph's
   static query count); coordinates map back with the ``(size - 1) / 255`` convention and, at its query
   frame, a track sits exactly on its query position;
5. ``visib_value = 1 - sigmoid(occlusion)``, ``c = 1 - sigmoid(expected_dist)``,
   ``visible = visib_value * c > 0.5``, ``confi_value = c`` where the point is visible or confidently
   occluded (``(1 - visib_value) * c > 0.5``), else 0; ``confidence`` is ``confi_value``. Tracks never
   visible are dropped (as the official preprocessing does). The official "one visible point in every
   frame" fix is left to the classifier's preprocessing (``motion/classifier/preprocess.py``), so that
   ``visible`` stays the network's own answer for the other stages.

Options (``config.extra``): ``tracker_checkpoint`` (path; default: the downloaded
``bootstapir_checkpoint_v2.pt``), ``random_weights`` (seeded random init, for plumbing tests),
``tracker_query_stride`` (10), ``tracker_max_tracks`` (5000), ``tracker_query_chunk`` (256),
``tracker_seed`` (0), ``tracker_frame_chunk`` (10), ``tracker_max_frames`` (TensorRT profile's longest
window; default the window, 512 in offline mode). Backends: ``config.backend`` ``torch`` (CPU/CUDA,
fp16 on CUDA), ``onnxruntime`` (exports the two graphs into the artifact folder on first use), ``trt``.

Quality note: without the real weights nothing here can show that tracks follow the video; tests
check shapes, coordinate mapping, determinism and streaming ids, and the network's parity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...config import RunConfig, stage_option
from ...contracts import FrameWindow, Tracks

MODEL_SIZE = 256  # BootsTAPIR's training / inference resolution
DEFAULTS = {
    "tracker_query_stride": 10,
    "tracker_max_tracks": 5000,
    "tracker_query_chunk": 256,
    "tracker_seed": 0,
    "tracker_frame_chunk": 10,
}
# What each option may be (stage_option's checks): a bad --option is a usage error, not a traceback.
LIMITS = {k: {"minimum": 1} for k in ("tracker_query_stride", "tracker_max_tracks", "tracker_query_chunk",
                                      "tracker_frame_chunk")}


def grid_spacing(height: int, width: int) -> int:
    """The official query grid spacing in pixels: ``max(1, floor(sqrt(H * W / 9000)))``."""
    return max(1, int(math.floor(math.sqrt(height * width / 9000.0))))


def grid_points(height: int, width: int) -> np.ndarray:
    """``[M, 2]`` (x, y) integer pixel positions of the query grid (row-major, starting at 0)."""
    g = grid_spacing(height, width)
    ys, xs = np.mgrid[0:height:g, 0:width:g]
    return np.stack([xs.reshape(-1), ys.reshape(-1)], -1).astype(np.float32)


def to_model_xy(xy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Working-resolution pixels -> pixels of the 256x256 model frame (``u * 255 / (size - 1)``)."""
    scale = np.array([255.0 / max(width - 1, 1), 255.0 / max(height - 1, 1)], np.float32)
    return xy * scale


def from_model_xy(xy: np.ndarray, height: int, width: int) -> np.ndarray:
    """256x256 model pixels -> working-resolution pixels (``u * (size - 1) / 255``, the official map)."""
    scale = np.array([(width - 1) / 255.0, (height - 1) / 255.0], np.float32)
    return xy * scale


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def visibility_from_logits(occlusion: np.ndarray, expected_dist: np.ndarray):
    """``(visible, visib_value, confi_value)`` as the official preprocessing computes them."""
    v = 1.0 - _sigmoid(occlusion.astype(np.float32))
    c = 1.0 - _sigmoid(expected_dist.astype(np.float32))
    visible = v * c > 0.5
    confident_occluded = (1.0 - v) * c > 0.5
    confi = np.where(visible | confident_occluded, c, 0.0).astype(np.float32)
    return visible, v.astype(np.float32), confi


def resize_for_model(frames: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` -> float32 ``[T, size, size, 3]`` in [-1, 1]."""
    import cv2

    t, h, w = frames.shape[:3]
    interp = cv2.INTER_AREA if (h > size and w > size) else cv2.INTER_LINEAR
    out = np.empty((t, size, size, 3), np.float32)
    for i in range(t):
        img = frames[i] if (h == size and w == size) else cv2.resize(frames[i], (size, size), interpolation=interp)
        out[i] = img.astype(np.float32) * (2.0 / 255.0) - 1.0
    return out


@dataclass
class _Carry:
    """What the next window needs of this one's tracks."""

    start: int  # global frame of local 0
    ids: np.ndarray  # [N]
    xy_model: np.ndarray  # [N, T, 2] 256-space
    xy: np.ndarray  # [N, T, 2] working pixels
    visible: np.ndarray  # [N, T] network visibility (before the one-per-frame fix)


def build_model(config: RunConfig):
    """The network for ``config``: the checkpoint's weights, or seeded random ones (``random_weights``)."""
    extra = config.extra or {}
    if extra.get("random_weights"):
        import torch

        from .modeling import TAPIR

        torch.manual_seed(0)  # the same weights as `motionseg-trt build --random-weights` exports
        return TAPIR(pyramid_level=1).eval()
    from ...official_weights import resolve_weight
    from .checkpoint import load_bootstapir

    return load_bootstapir(resolve_weight("bootstapir", extra.get("tracker_checkpoint"), config.weights_dir))


def trt_profiles(config: RunConfig, image_size: int = MODEL_SIZE, frame_chunk: int = 10):
    """TensorRT ``(features_profile, track_profile)`` ``{input: (min, opt, max)}`` for ``config``.

    One definition for ``motionseg-trt build`` and for the run, so their engine-cache entries match:
    frames in chunks of ``frame_chunk``; windows of 2 .. ``tracker_max_frames`` frames (default: the
    window; 512 in offline mode, where one window is the whole clip), optimised for the window.
    """
    s, t = int(image_size), max(2, int(config.window))
    t_max = max(t, int((config.extra or {}).get("tracker_max_frames", 512 if config.offline else t)))
    fch = max(1, int(frame_chunk))
    feats = {"frames": ((1, s, s, 3), (fch, s, s, 3), (fch, s, s, 3))}
    track = {"hires": ((2, s // 4, s // 4, 128), (t, s // 4, s // 4, 128), (t_max, s // 4, s // 4, 128)),
             "lowres": ((2, s // 8, s // 8, 256), (t, s // 8, s // 8, 256), (t_max, s // 8, s // 8, 256))}
    return feats, track


def build_engine(config: RunConfig, model=None, query_chunk: int = 256, frame_chunk: int = 10):
    """A Torch or ONNX engine for ``config.backend`` (ONNX graphs exported / found in the artifact folder)."""
    from .engine import OnnxTapirEngine, TorchTapirEngine

    model = model if model is not None else build_model(config)
    device = str(config.device or "cpu")
    if config.backend == "torch":
        return TorchTapirEngine(model, query_chunk, frame_chunk, device=device,
                                fp16=bool(config.fp16) and device.startswith("cuda"))
    from ...runtime.networks import artifacts_dir, ort_providers

    out_dir = artifacts_dir(config) / "onnx" / "bootstapir"
    if config.backend == "onnxruntime":
        providers = ort_providers(config)
        gpu = any(p.lower() not in ("cpu", "cpuexecutionprovider") for p in providers)
        return OnnxTapirEngine.from_model(model, out_dir, query_chunk, fp16=bool(config.fp16) and gpu,
                                          backend="onnxruntime", frame_chunk=frame_chunk, providers=providers,
                                          intra_op_threads=config.threads)
    if config.backend == "trt":
        from ...export.tracker import export_tracker, read_tracker_onnx, weights_fingerprint

        info = read_tracker_onnx(out_dir, query_chunk, False, fingerprint=weights_fingerprint(model))
        if info is None:
            info = export_tracker(model, out_dir, query_chunk=query_chunk, fp16=False)
        feats, track = trt_profiles(config, info.image_size, frame_chunk)
        common = dict(fp16=bool(config.fp16), cache_dir=str(artifacts_dir(config) / "trt"))
        return OnnxTapirEngine.from_paths(info.features, info.track, query_chunk, backend="trt",
                                          frame_chunk=frame_chunk,
                                          features_kwargs=dict(profiles=feats, name="bootstapir_features", **common),
                                          track_kwargs=dict(profiles=track, name="bootstapir_track", **common))
    raise ValueError(f"unknown backend {config.backend!r}; choose torch, onnxruntime or trt")


class BootsTapirTracker:
    """Streaming BootsTAPIR tracks: ``track(window) -> Tracks`` (see the module docstring)."""

    def __init__(self, config: Optional[RunConfig] = None, *, model=None, engine=None):
        self.config = config or RunConfig()
        opt = {k: stage_option(self.config, DEFAULTS, k, LIMITS) for k in DEFAULTS}
        self.query_stride = opt["tracker_query_stride"]
        self.max_tracks = opt["tracker_max_tracks"]
        self.query_chunk = opt["tracker_query_chunk"]
        self.seed = opt["tracker_seed"]
        self.frame_chunk = opt["tracker_frame_chunk"]
        self._model = model
        self._engine = engine
        self.reset()

    def reset(self) -> None:
        """Forget the previous windows (a new video)."""
        self._next_id = 0
        self._carry: Optional[_Carry] = None
        self._feat_cache = None  # (global start, hires, lowres)

    @property
    def engine(self):
        if self._engine is None:
            self._engine = build_engine(self.config, self._model, self.query_chunk, self.frame_chunk)
        return self._engine

    # -- features, reusing the overlap ------------------------------------------------------------
    def _features(self, window: FrameWindow):
        eng = self.engine
        t = window.length
        reuse = 0
        if self._feat_cache is not None:
            c_start, c_hi, c_lo = self._feat_cache
            first = window.start - c_start
            if 0 <= first < c_hi.shape[0]:
                reuse = min(c_hi.shape[0] - first, t)
        parts_hi, parts_lo = [], []
        if reuse:
            idx = np.arange(first, first + reuse)
            parts_hi.append(eng.slice_frames(c_hi, idx))
            parts_lo.append(eng.slice_frames(c_lo, idx))
        if reuse < t:
            hi, lo = eng.features(resize_for_model(window.frames[reuse:]))
            parts_hi.append(hi)
            parts_lo.append(lo)
        hires = parts_hi[0] if len(parts_hi) == 1 else eng.concat_frames(parts_hi)
        lowres = parts_lo[0] if len(parts_lo) == 1 else eng.concat_frames(parts_lo)
        self._feat_cache = (window.start, hires, lowres)
        return hires, lowres

    # -- queries ----------------------------------------------------------------------------------
    def _query_frames(self, window: FrameWindow) -> list[int]:
        first_new = 0 if self._carry is None else max(0, self._carry.start + self._carry.xy.shape[1] - window.start)
        return [f for f in range(first_new, window.length) if (window.start + f) % self.query_stride == 0]

    def _carried(self, window: FrameWindow):
        """(queries [K, 3] model space, exact working xy [K, 2], ids [K]) of tracks continuing here."""
        empty = (np.zeros((0, 3), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
        c = self._carry
        if c is None:
            return empty
        lo = window.start - c.start  # first overlap frame, in the previous window's local frames
        hi = min(c.xy.shape[1], lo + window.length)
        if lo < 0 or lo >= hi or len(c.ids) == 0:
            return empty
        vis = c.visible[:, lo:hi]
        keep = vis.any(1)
        if not keep.any():
            return empty
        # last visible overlap frame of each kept track
        last = (hi - lo - 1) - np.argmax(vis[keep][:, ::-1], axis=1)
        rows = np.nonzero(keep)[0]
        prev_t = lo + last
        q = np.concatenate([last[:, None].astype(np.float32),
                            c.xy_model[rows, prev_t][:, ::-1]], 1)  # (t, y, x)
        return q.astype(np.float32), c.xy[rows, prev_t].astype(np.float32), c.ids[rows]

    def _seeds(self, window: FrameWindow, rng: np.random.Generator):
        """(queries [S, 3] model space, exact working xy [S, 2], local query frame [S])."""
        h, w = window.frames.shape[1:3]
        grid = grid_points(h, w)
        frames = self._query_frames(window)
        per_window = max(1, len(range(0, max(window.length, 1), self.query_stride)))
        n_draw = int(len(grid) * (1.0 / per_window))
        qs, xys = [], []
        for f in frames:
            pick = np.sort(rng.choice(len(grid), size=min(n_draw, len(grid)), replace=False))
            xy = grid[pick]
            xys.append(xy)
            qs.append(np.concatenate([np.full((len(xy), 1), f, np.float32), to_model_xy(xy, h, w)[:, ::-1]], 1))
        if not qs:
            return np.zeros((0, 3), np.float32), np.zeros((0, 2), np.float32)
        return np.concatenate(qs).astype(np.float32), np.concatenate(xys).astype(np.float32)

    # -- one window -------------------------------------------------------------------------------
    def track(self, window: FrameWindow) -> Tracks:
        t = window.length
        h, w = window.frames.shape[1:3]
        rng = np.random.default_rng([self.seed, window.index])

        cq, cxy, cids = self._carried(window)
        sq, sxy = self._seeds(window, rng)
        queries = np.concatenate([cq, sq])
        exact_xy = np.concatenate([cxy, sxy])
        ids = np.concatenate([cids, np.full(len(sq), -1, np.int64)])
        if len(queries) > self.max_tracks:  # the official "random subset of at most 5000"
            keep = np.sort(rng.choice(len(queries), size=self.max_tracks, replace=False))
            queries, exact_xy, ids = queries[keep], exact_xy[keep], ids[keep]
        new = ids < 0
        ids[new] = np.arange(self._next_id, self._next_id + int(new.sum()))
        self._next_id += int(new.sum())

        if len(queries):
            hires, lowres = self._features(window)
            out = self.engine.track(hires, lowres, queries)
            xy_model = out["tracks"].astype(np.float32)
            occ, expd = out["occlusion"], out["expected_dist"]
        else:
            xy_model = np.zeros((0, t, 2), np.float32)
            occ = expd = np.zeros((0, t), np.float32)

        xy = from_model_xy(xy_model, h, w)
        qframe = queries[:, 0].astype(np.int64)
        rows = np.arange(len(queries))
        xy[rows, qframe] = exact_xy  # at its query frame a track sits exactly on its query point
        visible, visib_value, confi_value = visibility_from_logits(occ, expd)

        self._carry = _Carry(window.start, ids, xy_model, xy, visible)

        alive = visible.any(1)  # the official drops tracks that are never visible
        xy, visible, visib_value, confi_value = xy[alive], visible[alive], visib_value[alive], confi_value[alive]
        ids, qframe = ids[alive], qframe[alive]
        return Tracks(xy=xy.astype(np.float32), visible=visible, confidence=confi_value.copy(), ids=ids.astype(np.int64),
                      query_frame=qframe, visib_value=visib_value, confi_value=confi_value)
