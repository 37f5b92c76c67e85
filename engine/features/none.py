"""The features stage of the embedded model set: no depth, no DINO (every window's features are empty)."""
from __future__ import annotations

from ..contracts import FrameWindow, Tracks, WindowFeatures


class NoFeatures:
    def __init__(self, config=None):
        pass

    def extract(self, window: FrameWindow, tracks: Tracks) -> WindowFeatures:
        return WindowFeatures()
