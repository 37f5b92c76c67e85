"""Raw tracker outputs (or the engine's ``Tracks``) -> classifier inputs, as the official pipeline does it.

NumPy only (no torch), float32 wherever the official code is float32, so that index computations land
on the same side of integer boundaries. The steps, in order (spec §2-§3):

1. soft visibility / gated confidence from the occlusion and expected-distance logits
   (:func:`soft_visibility`);
2. optional random track subsampling (:func:`subsample_tracks`; unseeded in the official code, so parity
   is defined from the sampled tracks onward);
3. drop tracks with no visible frame, then give every empty frame one visible point
   (:func:`drop_invisible_tracks`, :func:`ensure_visible_per_frame`);
4. coordinate normalisation with divisor W / H and clamping (:func:`normalise_coords`);
5. depth: the 8-bit loader's per-frame min-max (:func:`depth_from_u8`), sampled at the tracks with the
   official [-1,1]-as-[0,1] index quirk or correctly (:func:`sample_depth`);
6. one DINO descriptor per track from its query frame's map (:func:`sample_dino`).

The result is a :class:`ModelInputs` (per clip, unbatched) whose ``feed()`` gives the batched arrays the
model / exported graph takes (see ``modeling``'s docstring for the layout).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

DEPTH_SAMPLING_MODES = ("official", "correct")


# --------------------------------------------------------------------------------------------- tracks
def _sigmoid32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(over="ignore"):
        return (np.float32(1.0) / (np.float32(1.0) + np.exp(-x))).astype(np.float32)


def soft_visibility(occlusion_logits: np.ndarray, expected_dist_logits: np.ndarray):
    """BootsTAPIR logits -> ``(visible [N,T] bool, visib_value, confi_value)`` (spec §2.1).

    ``v = 1 - σ(o)``, ``c = 1 - σ(e)``; visible = v·c > 0.5; confidently occluded = (1-v)·c > 0.5;
    ``confi_value = c`` where either test passes, else 0; ``visib_value = v`` ungated.
    """
    one = np.float32(1.0)
    v = one - _sigmoid32(occlusion_logits)
    c = one - _sigmoid32(expected_dist_logits)
    visible = (v * c) > np.float32(0.5)
    occluded = ((one - v) * c) > np.float32(0.5)
    confi = (c * (visible | occluded).astype(np.float32)).astype(np.float32)
    return visible, v.astype(np.float32), confi


def subsample_tracks(query_of_track: np.ndarray, rng: np.random.Generator, max_tracks: int = 5000) -> np.ndarray:
    """Official inference subsampling: from each query frame's tracks draw ``int(M_q * (1/Q))`` at random,
    concatenate, then keep a random subset of at most ``max_tracks``. Returns indices into the tracks."""
    query_of_track = np.asarray(query_of_track)
    queries = np.unique(query_of_track)
    frac = 1.0 / len(queries) if len(queries) else 0.0
    picked = []
    for q in queries:
        members = np.flatnonzero(query_of_track == q)
        picked.append(rng.permutation(members)[: int(len(members) * frac)])
    idx = np.concatenate(picked) if picked else np.zeros(0, np.int64)
    if len(idx) > max_tracks:
        idx = idx[rng.permutation(len(idx))[:max_tracks]]
    return idx.astype(np.int64)


def drop_invisible_tracks(visible: np.ndarray) -> np.ndarray:
    """Boolean keep-mask ``[N]``: tracks visible in at least one frame."""
    return np.asarray(visible, bool).any(axis=1)


def ensure_visible_per_frame(visible: np.ndarray, confi_value: np.ndarray) -> np.ndarray:
    """Every frame with no visible track gets one: the track with the largest ``confi_value`` there
    (first on ties). Returns a new boolean array; the soft values are left alone (official)."""
    visible = np.array(visible, dtype=bool, copy=True)
    if visible.shape[0] == 0:
        return visible
    empty = ~visible.any(axis=0)
    if empty.any():
        frames = np.flatnonzero(empty)
        best = np.argmax(np.asarray(confi_value)[:, frames], axis=0)  # argmax returns the first maximum
        visible[best, frames] = True
    return visible


def normalise_coords(xy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixels ``[..., 2]`` (x, y) -> ``clamp(x/W*2-1, -1, 1)`` (divisor W, not W-1), float32 (spec §2.2)."""
    xy = np.asarray(xy, dtype=np.float32)
    size = np.array([width, height], dtype=np.float32)
    out = (xy / size) * np.float32(2.0) - np.float32(1.0)
    return np.clip(out, np.float32(-1.0), np.float32(1.0)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- depth
def depth_from_u8(depth_u8: np.ndarray) -> np.ndarray:
    """The official loader's per-frame normalisation of 8-bit maps ``[T, H, W]`` -> float32 in [0, 1].

    Computed in float64 and cast, as the official code does. A constant frame would be 0/0 = NaN in the
    official code; here it becomes all zeros (documented deviation; it never happens on real depth).
    """
    d = np.asarray(depth_u8).astype(np.float64)
    lo = d.min(axis=(1, 2), keepdims=True)
    span = d.max(axis=(1, 2), keepdims=True) - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (d - lo) / np.where(span > 0, span, 1.0), 0.0)
    return out.astype(np.float32)


def u8_from_u16_png(depth_u16: np.ndarray) -> np.ndarray:
    """PIL's ``"I;16" -> "L"`` conversion of the official 16-bit depth PNGs: it saturates at 255."""
    return np.minimum(np.asarray(depth_u16), 255).astype(np.uint8)


def official_depth_from_unit(depth01: np.ndarray) -> np.ndarray:
    """Reproduce the official depth files from min-max scaled disparity ``[T, H, W]`` in [0, 1]:
    scale to 0..65535 (16-bit PNG), convert to 8 bits the way PIL does (saturating), normalise per frame.
    The checkpoint was trained on depth read this way, so official weights want it. The scaled value
    is truncated, as a float-to-uint16 ``astype`` cast writing the PNG does (not rounded)."""
    u16 = np.floor(np.clip(np.asarray(depth01, np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)
    return depth_from_u8(u8_from_u16_png(u16))


def sample_depth(depth: np.ndarray, traj_n: np.ndarray, mode: str = "official") -> np.ndarray:
    """Depth at the tracks: ``depth [T, H, W]`` float32, ``traj_n [N, T, 2]`` normalised -> ``[N, T]``.

    ``official``: the official sampler reads [-1, 1] coordinates as if they were [0, 1]:
    ``k = clamp(trunc(y_n·H)·W + trunc(x_n·W), 0, H·W-1)`` on the flattened frame (spec §3.1). The
    released weights were trained with it. ``correct``: the pixel that indexing meant,
    ``row = clamp(floor((y_n+1)/2·H), 0, H-1)``, likewise for the column.
    """
    if mode not in DEPTH_SAMPLING_MODES:
        raise ValueError(f"depth_sampling must be one of {DEPTH_SAMPLING_MODES}, not {mode!r}")
    depth = np.asarray(depth, dtype=np.float32)
    t_len, h, w = depth.shape
    traj_n = np.asarray(traj_n, dtype=np.float32)
    if traj_n.shape[1] != t_len:
        raise ValueError(f"tracks span {traj_n.shape[1]} frames but there are {t_len} depth maps")
    x, y = traj_n[..., 0], traj_n[..., 1]
    if mode == "official":
        r = np.trunc(y * np.float32(h)).astype(np.int64)
        c = np.trunc(x * np.float32(w)).astype(np.int64)
        k = np.clip(r * w + c, 0, h * w - 1)
    else:
        half, one = np.float32(0.5), np.float32(1.0)
        r = np.clip(np.floor((y + one) * half * np.float32(h)).astype(np.int64), 0, h - 1)
        c = np.clip(np.floor((x + one) * half * np.float32(w)).astype(np.int64), 0, w - 1)
        k = r * w + c
    flat = depth.reshape(t_len, h * w)
    return flat[np.arange(t_len)[None, :], k].astype(np.float32)


# ----------------------------------------------------------------------------------------------- dino
def reorder_dino_head_major(keys: np.ndarray, heads: int = 12) -> np.ndarray:
    """Key features in the projection's natural head-major order (channel ``64·k + j`` = dim j of head k)
    -> the official layout, within-head index major (channel ``12·j + k``), last axis."""
    keys = np.asarray(keys)
    c = keys.shape[-1]
    return keys.reshape(*keys.shape[:-1], heads, c // heads).swapaxes(-1, -2).reshape(keys.shape)


def sample_dino(dino_maps: np.ndarray, map_frames: Sequence[int], track_query_frame: np.ndarray,
                tracks_px: np.ndarray, height: int, width: int) -> np.ndarray:
    """One descriptor per track (spec §2.4): from the map of its query frame, at its pixel position in
    that frame, truncating to the lower cell: ``ix = clamp(trunc(x_q·fl32(w'/W)), 0, w'-1)``.

    ``dino_maps [Q, h', w', C]`` (any float dtype), ``map_frames [Q]`` the frame of each map,
    ``track_query_frame [N]``. A track whose query frame has no map reads the map of the nearest frame
    that has one (the engine's own trackers seed tracks on any frame). Returns float32 ``[N, C]``.
    """
    maps = np.asarray(dino_maps)
    frames = np.asarray(map_frames, dtype=np.int64)
    q = np.asarray(track_query_frame, dtype=np.int64)
    n = q.shape[0]
    _, mh, mw, _ = maps.shape
    nearest = np.abs(q[:, None] - frames[None, :]).argmin(axis=1)  # exact match when the map exists
    frame = frames[nearest]
    pos = np.asarray(tracks_px, dtype=np.float32)[np.arange(n), frame]  # [N, 2]
    sx = np.float32(mw / width)
    sy = np.float32(mh / height)
    ix = np.clip(np.trunc(pos[:, 0] * sx), 0, mw - 1).astype(np.int64)
    iy = np.clip(np.trunc(pos[:, 1] * sy), 0, mh - 1).astype(np.int64)
    return maps[nearest, iy, ix].astype(np.float32)


# ------------------------------------------------------------------------------------------- assembly
@dataclass
class ModelInputs:
    """One clip's classifier inputs, unbatched; ``feed()`` adds the batch axis. Optional parts are
    None when the configuration does not use them."""

    traj: np.ndarray  # [N, T, 2] normalised
    mask: np.ndarray  # [N, T] float32, 1 = not visible
    depth: Optional[np.ndarray] = None  # [N, T] sampled depth
    visib_value: Optional[np.ndarray] = None  # [N, T]
    confi_value: Optional[np.ndarray] = None  # [N, T]
    dino: Optional[np.ndarray] = None  # [N, C]

    @property
    def num_tracks(self) -> int:
        return int(self.traj.shape[0])

    def feed(self, names: Optional[Sequence[str]] = None) -> dict[str, np.ndarray]:
        """Batched (B = 1) float32 arrays keyed by input name; ``names`` restricts/validates the set."""
        have = {k: v for k, v in (("traj", self.traj), ("mask", self.mask), ("depth", self.depth),
                                  ("visib_value", self.visib_value), ("confi_value", self.confi_value),
                                  ("dino", self.dino)) if v is not None}
        if names is not None:
            missing = [n for n in names if n not in have]
            if missing:
                raise ValueError(f"the classifier needs inputs {missing} that were not prepared")
            have = {n: have[n] for n in names}
        return {k: np.ascontiguousarray(v, dtype=np.float32)[None] for k, v in have.items()}


@dataclass
class PreparedTracks:
    """Tracks after the official preprocessing, aligned with ``inputs``; ``kept`` indexes the input
    tracks (those with at least one visible frame), so outputs can be scattered back."""

    kept: np.ndarray  # [N] int64 indices into the tracks given to the preprocessing
    tracks_px: np.ndarray  # [N, T, 2] float32 pixels
    visible: np.ndarray  # [N, T] bool, with the one-visible-point-per-frame rule applied
    visib_value: np.ndarray  # [N, T] float32
    confi_value: np.ndarray  # [N, T] float32
    inputs: ModelInputs
    image_hw: tuple = field(default=(0, 0))


@dataclass(frozen=True)
class PreprocessConfig:
    depth_sampling: str = "official"  # official | correct
    depth_png_quirk: bool = True  # float depth maps go through the official 16->8 bit conversion
    use_depth: bool = True
    use_dino: bool = True
    use_visibility_confidence: bool = True

    @classmethod
    def for_model(cls, model_config, **overrides) -> "PreprocessConfig":
        """The preprocessing a given ``ClassifierConfig`` needs (which inputs to build)."""
        base = dict(use_depth=model_config.use_depth, use_dino=model_config.use_dino,
                    use_visibility_confidence=model_config.use_visibility_confidence)
        base.update(overrides)
        return cls(**base)


def _assemble(tracks_px, visible, visib_value, confi_value, image_hw, depth, dino_maps, dino_frames,
              query_frame, cfg: PreprocessConfig) -> PreparedTracks:
    tracks_px = np.asarray(tracks_px, np.float32)
    kept = np.flatnonzero(drop_invisible_tracks(visible))
    tracks_px, visible = tracks_px[kept], np.asarray(visible, bool)[kept]
    visib_value = np.asarray(visib_value, np.float32)[kept]
    confi_value = np.asarray(confi_value, np.float32)[kept]
    visible = ensure_visible_per_frame(visible, confi_value)
    h, w = int(image_hw[0]), int(image_hw[1])
    traj = normalise_coords(tracks_px, h, w)
    inputs = ModelInputs(traj=traj, mask=(~visible).astype(np.float32))
    if cfg.use_depth:
        if depth is None:
            raise ValueError("this classifier uses depth but no depth maps were given")
        inputs.depth = sample_depth(depth, traj, cfg.depth_sampling)
    if cfg.use_visibility_confidence:
        inputs.visib_value, inputs.confi_value = visib_value, confi_value
    if cfg.use_dino:
        if dino_maps is None:
            raise ValueError("this classifier uses DINO features but no DINO maps were given")
        inputs.dino = sample_dino(dino_maps, dino_frames, np.asarray(query_frame)[kept], tracks_px, h, w)
    return PreparedTracks(kept=kept.astype(np.int64), tracks_px=tracks_px, visible=visible,
                          visib_value=visib_value, confi_value=confi_value, inputs=inputs, image_hw=(h, w))


def prepare_from_raw(tracks_px: np.ndarray, occlusion_logits: np.ndarray, expected_dist_logits: np.ndarray,
                     track_query_frame: np.ndarray, image_hw: Sequence[int], depth_u8: Optional[np.ndarray] = None,
                     dino_maps: Optional[np.ndarray] = None, query_frames: Optional[Sequence[int]] = None,
                     cfg: PreprocessConfig = PreprocessConfig()) -> PreparedTracks:
    """The official chain from the (already subsampled) raw BootsTAPIR outputs.

    tracks_px ``[N, T, 2]`` pixels; logits ``[N, T]``; depth_u8 ``[T, H, W]`` the 8-bit maps as the
    official loader sees them (use :func:`u8_from_u16_png` on 16-bit PNGs); dino_maps
    ``[Q, h', w', C]`` at ``query_frames``.
    """
    visible, v, c = soft_visibility(occlusion_logits, expected_dist_logits)
    depth = depth_from_u8(depth_u8) if (cfg.use_depth and depth_u8 is not None) else None
    return _assemble(tracks_px, visible, v, c, image_hw, depth, dino_maps, query_frames, track_query_frame, cfg)


def prepare_from_tracks(tracks, features=None, image_hw: Optional[Sequence[int]] = None,
                        cfg: PreprocessConfig = PreprocessConfig()) -> PreparedTracks:
    """The same chain from the engine's :class:`~motionseg_trt.contracts.Tracks` and optional
    :class:`~motionseg_trt.contracts.WindowFeatures`.

    Soft values: ``tracks.visib_value`` / ``tracks.confi_value`` when the tracker provides them
    (BootsTAPIR), else the boolean visibility as visib_value and ``confidence`` as confi_value.
    Depth: ``features.depth`` ``[T, H, W]`` in [0, 1]; with ``cfg.depth_png_quirk`` it goes through the
    official 16-bit PNG -> 8-bit conversion first. ``image_hw`` defaults to the depth maps' size.
    """
    visible = np.asarray(tracks.visible, bool)
    v = tracks.visib_value if tracks.visib_value is not None else visible.astype(np.float32)
    c = tracks.confi_value if tracks.confi_value is not None else np.asarray(tracks.confidence, np.float32)
    depth = dino = dino_frames = None
    if features is not None:
        if cfg.use_depth and features.depth is not None:
            depth = official_depth_from_unit(features.depth) if cfg.depth_png_quirk else \
                np.asarray(features.depth, np.float32)
        if cfg.use_dino and features.dino is not None:
            dino = features.dino
            dino_frames = features.dino_frames if features.dino_frames is not None else np.arange(len(dino))
    if image_hw is None:
        if depth is None:
            raise ValueError("image_hw is needed when there are no depth maps to take the size from")
        image_hw = depth.shape[1:3]
    return _assemble(tracks.xy, visible, v, c, image_hw, depth, dino, dino_frames, tracks.query_frame, cfg)
