"""The official rule that turns per-track probabilities into the set of moving tracks (spec §6)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLDS = (0.95, 0.93, 0.90, 0.85, 0.80, 0.75, 0.70)
LONG_CLIP_THRESHOLDS = (0.99, 0.98, 0.97, 0.96, 0.95)
LONG_CLIP_FRAMES = 300  # clips with more frames than this use LONG_CLIP_THRESHOLDS
MIN_MOVING = 10
FALLBACK_TOP_K = 3
DYNAMIC_CONFIDENCE = 0.9
FALLBACK = -1.0  # threshold_used when the top-k fallback fired


@dataclass
class Selection:
    moving: np.ndarray  # [N] bool
    threshold_used: float  # the threshold that selected, or -1.0 for the top-3 fallback


def select_moving(prob: np.ndarray, num_frames: int) -> Selection:
    """First threshold with at least 10 tracks strictly above it (float32 comparison) selects them;
    otherwise exactly the 3 most probable tracks (even if 1-9 exceed the last threshold)."""
    p = np.asarray(prob, dtype=np.float32).reshape(-1)
    thresholds = LONG_CLIP_THRESHOLDS if num_frames > LONG_CLIP_FRAMES else THRESHOLDS
    for tau in thresholds:
        above = p > np.float32(tau)
        if int(above.sum()) >= MIN_MOVING:
            return Selection(above, float(np.float32(tau)))
    moving = np.zeros(p.shape, dtype=bool)
    moving[top_k_indices(p, FALLBACK_TOP_K)] = True
    return Selection(moving, FALLBACK)


def top_k_indices(p: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values; ties resolved as ``torch.topk`` does on CPU (torch when available,
    else the lowest index first, which is what torch's CPU kernel returns for exact ties)."""
    k = min(k, p.shape[0])
    if k == 0:
        return np.zeros(0, np.int64)
    try:
        import torch

        return torch.topk(torch.from_numpy(np.ascontiguousarray(p)), k).indices.numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        return np.argsort(-p, kind="stable")[:k]


def dynamic_tracks(tracks_px: np.ndarray, visible: np.ndarray, confi_value: np.ndarray, moving: np.ndarray):
    """What the official pipeline hands to SAM2 for the moving tracks: pixel trajectories ``[2, N_d, T]``,
    visibility ``visible AND confi_value > 0.9`` ``[N_d, T]`` and ``confi_value`` ``[N_d, T]``."""
    moving = np.asarray(moving, bool)
    traj = np.ascontiguousarray(np.asarray(tracks_px, np.float32)[moving].transpose(2, 0, 1))
    conf = np.asarray(confi_value, np.float32)[moving]
    vis = np.asarray(visible, bool)[moving] & (conf > np.float32(DYNAMIC_CONFIDENCE))
    return traj, vis, conf
