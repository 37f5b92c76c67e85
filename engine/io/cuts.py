"""Hard scene cuts, found from small thumbnails of consecutive distinct frames.

The change between two frames is the sum of three cues on 64 px wide thumbnails: the L1 distance of
their RGB colour histograms (4x4x4 bins) and of their hue-saturation histograms (16x4 bins), each
halved to [0, 1], and their mean absolute pixel difference / 200. Histograms barely move when the
camera or an object moves fast, the pixel difference catches two scenes of similar colours.

A cut between frames t-1 and t needs all of:

* a change that is large and stands out from its neighbours (fast motion changes every frame a lot,
  a cut changes one pair): ``change(t-1, t) > cut_threshold`` and ``> cut_ratio * neighbours``,
  where ``neighbours = max(change(t-2, t-1), change(t, t+1))``; or, for two scenes of similar colours
  (only the pixel term changes much), a smaller change that stands out twice as much: ``>
  cut_threshold * 0.4`` and ``> 2 * cut_ratio * neighbours``;
* no return: every frame of t .. t+4 differs from every frame of t-5 .. t-1 by more than half the
  change at the cut (a flash of up to four frames comes back to the scene before it, at its start and
  at its end; a cut does not).

The first two frames of a video (or of what the caller gives) never start a scene: a cut needs a
frame pair before it to compare with.

Measured on the 30 DAVIS-2016 train clips (``docs/notes/footage.md``): no cut found inside any clip,
at 24, 12 and 8 fps (every frame, every 2nd, every 3rd), and every one of the 870 ordered joins of two
clips found at 24 and 12 fps; the defaults sit in the middle of the thresholds that do both (inside a
clip a change never stood out more than 2.5 times from its neighbours).
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import cv2
import numpy as np

from ..config import RunConfig
from ..options import Option, read_options

OPTIONS = (
    Option("cut_detect", True, "find hard scene cuts (tracks, stage state and object ids restart at each)"),
    Option("cut_threshold", 0.4, "smallest change of a cut (the sum of three cues, each about 0..1)", positive=True),
    Option("cut_ratio", 2.0, "a cut's change is this many times its neighbours'", minimum=1.0),
)
CUT_THUMB_WIDTH = 64
LOOKAHEAD = 4  # frames after t that the decision on t needs (a flash may last this long)
LOOKBACK = LOOKAHEAD + 1  # and frames before it
RETURN_FRACTION = 0.5  # frames across a flash differ by at most this fraction of the flash's change
WEAK_FRACTION = 0.4  # a change of cut_threshold * this counts when it stands out 2 * cut_ratio times


class CutFeatures(NamedTuple):
    rgb: np.ndarray  # [64] normalised RGB histogram
    hs: np.ndarray  # [64] normalised hue-saturation histogram
    small: np.ndarray  # [h, 64, 3] float32 thumbnail


def cut_features(thumb: np.ndarray) -> CutFeatures:
    """Features of an RGB uint8 thumbnail (any size: it is brought to 64 px wide)."""
    h, w = thumb.shape[:2]
    if w != CUT_THUMB_WIDTH:
        size = (CUT_THUMB_WIDTH, max(2, int(round(CUT_THUMB_WIDTH * h / w))))
        thumb = cv2.resize(thumb, size, interpolation=cv2.INTER_AREA)
    q = thumb.astype(np.int32) >> 6  # 4 levels per channel
    rgb = np.bincount(((q[..., 0] << 4) | (q[..., 1] << 2) | q[..., 2]).ravel(), minlength=64).astype(np.float64)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
    hs = cv2.calcHist([hsv], [0, 1], None, [16, 4], [0, 180, 0, 256]).ravel().astype(np.float64)
    return CutFeatures(rgb / rgb.sum(), hs / max(hs.sum(), 1.0), thumb.astype(np.float32))


def change(a: CutFeatures, b: CutFeatures) -> float:
    """How different two frames look (0 = identical; a cut between two DAVIS scenes is 0.7 or more)."""
    return float(0.5 * np.abs(a.rgb - b.rgb).sum() + 0.5 * np.abs(a.hs - b.hs).sum()
                 + np.abs(a.small - b.small).mean() / 200.0)


class CutDetector:
    """Decides, for frame t of a sequence of distinct frames, whether a cut precedes it.

    ``is_cut(feats, t)`` looks at ``feats[t-5 .. t+4]`` (what exists of them): the caller keeps
    :data:`LOOKBACK` frames of features behind and :data:`LOOKAHEAD` ahead of the frame it decides on."""

    def __init__(self, config: Optional[RunConfig] = None):
        opt = read_options(config or RunConfig(), OPTIONS)
        self.enabled = bool(opt["cut_detect"])
        self.threshold = float(opt["cut_threshold"])
        self.ratio = float(opt["cut_ratio"])

    def is_cut(self, feats: Sequence[Optional[CutFeatures]], t: int) -> bool:
        """``feats[t]`` against ``feats[t-1]``; a missing neighbour (None or out of range) is no
        evidence either way."""
        if not self.enabled or t < 2 or feats[t - 2] is None or feats[t - 1] is None or feats[t] is None:
            return False

        def at(i):
            return feats[i] if 0 <= i < len(feats) else None

        d = change(feats[t - 1], feats[t])
        if d <= WEAK_FRACTION * self.threshold:
            return False
        after = at(t + 1)
        neighbours = max(change(feats[t - 2], feats[t - 1]), change(feats[t], after) if after is not None else 0.0)
        strong = d > self.threshold and d > self.ratio * neighbours
        if not (strong or d > 2 * self.ratio * neighbours):
            return False
        for i in range(t - LOOKBACK, t):
            for j in range(t, t + LOOKAHEAD + 1):
                if (i, j) != (t - 1, t) and at(i) is not None and at(j) is not None \
                        and change(at(i), at(j)) <= RETURN_FRACTION * d:
                    return False  # the scene before comes back: a flash, not a cut
        return True
