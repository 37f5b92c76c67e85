"""Carrying a map computed at one frame to the next along the tracker's backward flow.

``Tracks.flow_back[t]`` gives, for each pixel of frame t, where the same point was in frame t-1 (in
working pixels, on a coarse grid); a map of frame t-1 is read at those points (bilinear), which moves
salient regions with the objects and the camera. Chained frame by frame from a key frame, it costs one
``cv2.remap`` per frame instead of a network run.
"""
from __future__ import annotations

import cv2
import numpy as np


def warp_to_next(prev_map: np.ndarray, flow_back: np.ndarray, work_hw: tuple[int, int]) -> np.ndarray:
    """``prev_map`` ``[h, w]`` (or ``[h, w, C]``) of frame t-1 carried to frame t by ``flow_back`` of frame t."""
    h, w = prev_map.shape[:2]
    flow = cv2.resize(flow_back, (w, h), interpolation=cv2.INTER_LINEAR)
    gx, gy = _grid(h, w)
    map_x = gx + flow[..., 0] * np.float32(w / work_hw[1])
    map_y = gy + flow[..., 1] * np.float32(h / work_hw[0])
    return cv2.remap(prev_map, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


_GRIDS: dict = {}


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    if (h, w) not in _GRIDS:
        _GRIDS.clear()
        _GRIDS[(h, w)] = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return _GRIDS[(h, w)]
