"""Units that do not change with how a clip was stored.

Space: a length in pixels is stated at the *reference frame* (854x480, the DAVIS frames the defaults
were tuned on) and scaled by the frame's sqrt(area) relative to it, so that a 240p, a 1080p and a
portrait frame of the same scene get the same thresholds (a height-based scale would give a portrait
frame thresholds twice as loose). Time: durations are in seconds, turned into frame counts at the
rate of the frames the stages see.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

REFERENCE_WIDTH, REFERENCE_HEIGHT = 854, 480
REFERENCE_AREA = REFERENCE_WIDTH * REFERENCE_HEIGHT
REFERENCE_FPS = 24.0  # frames per second the frame-valued defaults were tuned at


def space_unit(height: int, width: int) -> float:
    """Pixels of this frame per pixel of the reference frame (sqrt of the area ratio)."""
    return math.sqrt(float(height) * float(width) / REFERENCE_AREA)


def frames_for(seconds: float, frame_interval: Optional[float], minimum: int = 1) -> int:
    """``seconds`` as a whole number of frames ``frame_interval`` seconds apart (at least ``minimum``);
    an unknown interval is the reference rate's."""
    interval = frame_interval if frame_interval and frame_interval > 0 else 1.0 / REFERENCE_FPS
    return max(minimum, int(math.floor(seconds / interval + 0.5)))


def mean_interval(times: Optional[Sequence[float]]) -> Optional[float]:
    """Mean seconds between consecutive frames (the mean, not the median: a 60 fps clip sampled at
    24 fps alternates 2 and 3 frame steps), or None when it cannot be told."""
    if times is None or len(times) < 2:
        return None
    span = float(times[-1]) - float(times[0])
    return span / (len(times) - 1) if span > 0 else None
