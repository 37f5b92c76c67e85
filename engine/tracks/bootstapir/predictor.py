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

Settings: :data:`OPTIONS` (``random_weights`` gives a seeded random network, for plumbing tests). The
two graphs run through the runtime layer (:func:`tracker_network`, :class:`.engine.TapirEngine`) on the
configured backend; exported to the artifact folder on first use when ``build`` has not done it.

Quality note: without the real weights nothing here can show that tracks follow the video; tests
check shapes, coordinate mapping, determinism and streaming ids, and the network's parity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...config import RunConfig
from ...contracts import FrameWindow, Tracks
from ...options import ENGINE_OPTIONS, Option, read_option, read_options

MODEL_SIZE = 256  # BootsTAPIR's training / inference resolution
OPTIONS = (
    Option("tracker_checkpoint", None, "BootsTAPIR weights (default: the downloaded bootstapir_checkpoint_v2.pt)",
           kind=str),
    Option("tracker_query_stride", 10, "query frames: every this many frames (global index)", minimum=1),
    Option("tracker_max_tracks", 5000, "tracks per window at most (a seeded random subset)", minimum=1),
    Option("tracker_query_chunk", 256, "queries per call of the tracking graph (its static query count)",
           minimum=1),
    Option("tracker_seed", 0, "seed of the query draws"),
    Option("tracker_frame_chunk", 10, "frames per call of the features graph", minimum=1),
    Option("tracker_max_frames", None, "longest window of the TensorRT profile (default: the window; 512 "
                                       "offline)", kind=int, minimum=2),
)


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


def checkpoint_of(config: RunConfig) -> Optional[str]:
    """The weights a run uses: None (seeded random) with ``random_weights``, else ``tracker_checkpoint``
    or the downloaded file (a clear error when missing)."""
    if read_option(config, ENGINE_OPTIONS, "random_weights"):
        return None
    from ...official_weights import resolve_weight

    return resolve_weight("bootstapir", read_option(config, OPTIONS, "tracker_checkpoint"), config.weights_dir)


def build_model(checkpoint: Optional[str]):
    """The network with the weights of ``checkpoint``, or (None) seeded random ones."""
    if checkpoint is None:
        import torch

        from .modeling import TAPIR

        torch.manual_seed(0)  # the same weights as `motionseg-trt build --random-weights` exports
        return TAPIR(pyramid_level=1).eval()
    from .checkpoint import load_bootstapir

    return load_bootstapir(checkpoint)


def trt_profiles(config: RunConfig, image_size: int = MODEL_SIZE, frame_chunk: int = 10):
    """TensorRT ``(features_profile, track_profile)`` ``{input: (min, opt, max)}`` for ``config``:
    frames in chunks of ``frame_chunk``; windows of 2 .. ``tracker_max_frames`` frames (default: the
    window; 512 in offline mode, where one window is the whole clip), optimised for the window."""
    s, t = int(image_size), max(2, int(config.window))
    t_max = max(t, read_option(config, OPTIONS, "tracker_max_frames") or (512 if config.offline else t))
    fch = max(1, int(frame_chunk))
    feats = {"frames": ((1, s, s, 3), (fch, s, s, 3), (fch, s, s, 3))}
    track = {"hires": ((2, s // 4, s // 4, 128), (t, s // 4, s // 4, 128), (t_max, s // 4, s // 4, 128)),
             "lowres": ((2, s // 8, s // 8, 256), (t, s // 8, s // 8, 256), (t_max, s // 8, s // 8, 256))}
    return feats, track


def tracker_network(config: RunConfig, load_model=None, tag: Optional[str] = None):
    """BootsTAPIR's two graphs for ``config`` (``build`` and the stage ask for the same): per-frame
    features, and tracking with a static ``tracker_query_chunk`` queries. ``load_model`` (with ``tag``,
    naming its weights in the exported files) replaces the weights ``config`` names."""
    from ...runtime.network import Graph, NetworkSpec, once, weights_tag

    opt = read_options(config, OPTIONS)
    query_chunk, frame_chunk = opt["tracker_query_chunk"], opt["tracker_frame_chunk"]

    def describe():
        from motionseg_trt.export.tracker import (FEATURES_INPUTS, FEATURES_OUTPUTS, TRACK_INPUTS, TRACK_OUTPUTS,
                                                  export_tracker_graph, tracker_graphs)

        checkpoint = checkpoint_of(config) if load_model is None else None
        model = once(load_model or (lambda: build_model(checkpoint)))
        weights = tag if load_model is not None else weights_tag(checkpoint)
        feats_profile, track_profile = trt_profiles(config, MODEL_SIZE, frame_chunk)

        def export(part):
            return lambda path, fp16: export_tracker_graph(model(), part, path, query_chunk=query_chunk, fp16=fp16)

        return [Graph(f"bootstapir_features_{weights}", "features", FEATURES_INPUTS, FEATURES_OUTPUTS, export("features"),
                      lambda: tracker_graphs(model())[0], feats_profile),
                Graph(f"bootstapir_track_q{query_chunk}_{weights}", "track", TRACK_INPUTS, TRACK_OUTPUTS, export("track"),
                      lambda: tracker_graphs(model())[1], track_profile)]

    return NetworkSpec("tracker", describe, f"BootsTAPIR, {query_chunk} queries per chunk, T<= {config.window}")


class BootsTapirTracker:
    """Streaming BootsTAPIR tracks: ``track(window) -> Tracks`` (see the module docstring)."""

    OPTIONS = OPTIONS

    @classmethod
    def weight_needs(cls, config: RunConfig) -> list:
        """The checkpoint :func:`checkpoint_of` will load (none with ``random_weights``)."""
        from ...official_weights import WeightNeed

        if read_option(config, ENGINE_OPTIONS, "random_weights"):
            return []
        return [WeightNeed("BootsTAPIR tracker", "bootstapir", read_option(config, OPTIONS, "tracker_checkpoint"),
                           "--option tracker_checkpoint=PATH")]

    def __init__(self, config: Optional[RunConfig] = None, *, engine=None):
        self.config = config or RunConfig()
        opt = read_options(self.config, OPTIONS)
        self.query_stride = opt["tracker_query_stride"]
        self.max_tracks = opt["tracker_max_tracks"]
        self.query_chunk = opt["tracker_query_chunk"]
        self.seed = opt["tracker_seed"]
        self.frame_chunk = opt["tracker_frame_chunk"]
        self._engine = engine  # a stand-in for the network (tests of the tracking logic)
        self.reset()

    def reset(self) -> None:
        """Forget the previous windows (a new video)."""
        self._next_id = 0
        self._carry: Optional[_Carry] = None
        self._feat_cache = None  # (global start, hires, lowres)

    @classmethod
    def network_specs(cls, config: RunConfig, frame_hw) -> list:
        return [tracker_network(config)]

    @property
    def engine(self):
        if self._engine is None:
            from .engine import TapirEngine

            self._engine = TapirEngine.on_backend(self.config, tracker_network(self.config),
                                                  self.query_chunk, self.frame_chunk, log=lambda m: None)
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
