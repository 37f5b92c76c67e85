"""Dense optical flow (OpenCV DIS) at a reduced resolution, and point look-ups into it.

Flow is computed on a downscaled grey image (the area of a 16:9 frame whose longest side is
``flow_side``, whatever the orientation or aspect ratio of the input) because DIS cost grows with
the pixel count while long-range tracks only need the flow at a few thousand points; vectors are
scaled back to working-resolution pixels by :meth:`DenseFlow.at`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def flow_scale(height: int, width: int, flow_side: int) -> float:
    """Factor from working-resolution pixels to flow-resolution pixels (<= 1): the flow image has the
    area of a ``flow_side`` x ``flow_side * 9 / 16`` frame (480 -> 480x270 for 854x480, 270x480 for a
    portrait 1080x1920), so that portrait, square and landscape frames get flow of the same detail."""
    area = float(flow_side) * float(flow_side) * 9.0 / 16.0
    return min(1.0, float(np.sqrt(area / (float(height) * float(width)))))


def to_flow_gray(frame_rgb: np.ndarray, scale: float) -> np.ndarray:
    gray = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        h, w = gray.shape
        size = (max(8, int(round(w * scale))), max(8, int(round(h * scale))))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray


def bilinear(field: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Sample ``field`` [h, w, C] at sub-pixel points ``xy`` [N, 2] (pixel centres at integers).

    Points outside are clamped to the border, which is what a flow field means there.
    """
    h, w = field.shape[:2]
    x = np.clip(xy[:, 0], 0.0, w - 1.0)
    y = np.clip(xy[:, 1], 0.0, h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2) if w > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2) if h > 1 else np.zeros(len(y), np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    ax = (x - x0)[:, None]
    ay = (y - y0)[:, None]
    top = field[y0, x0] * (1 - ax) + field[y0, x1] * ax
    bottom = field[y1, x0] * (1 - ax) + field[y1, x1] * ax
    return (top * (1 - ay) + bottom * ay).astype(np.float32)


@dataclass
class FlowPair:
    """Forward (t -> t+1) and backward (t+1 -> t) flow, in flow-resolution pixels."""

    forward: np.ndarray  # [h, w, 2] float32
    backward: np.ndarray  # [h, w, 2] float32
    scale: float  # working px * scale = flow px

    def at(self, field: np.ndarray, xy_work: np.ndarray) -> np.ndarray:
        """Flow vectors of ``field`` at working-resolution points, in working-resolution pixels."""
        return bilinear(field, xy_work * self.scale) / self.scale


# Smallest long side of DIS's finest level with finest_scale = -1: the full flow resolution. A coarser
# finest level spills a moving object's flow onto the flat ground around it, where re-seeded tracks
# become false "moving" halos (docs/notes/2026-12-01-embedded-set-on-davis.md).
FINEST_SIDE = 480


class DenseFlow:
    """Computes :class:`FlowPair` s between consecutive grey frames.

    The forward and the backward flow come from two DIS instances (DIS keeps no state between calls,
    so each gives what one instance would); with ``parallel`` they run at the same time on two
    threads, since OpenCV releases the GIL and DIS itself barely uses a second core."""

    def __init__(self, preset: str = "ultrafast", flow_side: int = 480, finest_scale: int = -1,
                 parallel: bool = True):
        if preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose one of {sorted(DIS_PRESETS)}")
        self.flow_side = int(flow_side)
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        self._dis_back = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        self._pool = None
        if parallel:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="dis-backward")
        self.finest_scale = int(finest_scale)
        self._sized_for: tuple[int, int] | None = None

    def _fit_to(self, shape: tuple[int, int]) -> None:
        # The presets stop at 1/4 (ultrafast, fast) of the image; a sub-pixel bias there accumulates
        # into drift when flow is chained, and a coarse finest level spills an object's motion onto
        # its surroundings (tracks there become false "moving" halos). Automatic (-1): the finest
        # level keeps >= FINEST_SIDE px on the long side (full resolution at the default 480 px).
        if self._sized_for == shape:
            return
        level = self.finest_scale
        if level < 0:
            level = 0
            while max(shape) / 2 ** (level + 1) >= FINEST_SIDE:
                level += 1
        self._dis.setFinestScale(level)
        self._dis_back.setFinestScale(level)
        self._sized_for = shape

    def pair(self, gray0: np.ndarray, gray1: np.ndarray, scale: float) -> FlowPair:
        self._fit_to(gray0.shape)
        if self._pool is None:
            fwd = self._dis.calc(gray0, gray1, None)
            bwd = self._dis_back.calc(gray1, gray0, None)
        else:
            backward = self._pool.submit(self._dis_back.calc, gray1, gray0, None)
            fwd = self._dis.calc(gray0, gray1, None)
            bwd = backward.result()
        return FlowPair(forward=fwd, backward=bwd, scale=scale)
