"""From frames to sequences to a data set: the DAVIS means.

A sequence's J (F) is the mean of its frames' J (F); the data set's J (F) is the mean over sequences
(each sequence weighs the same, however long); J&F is the mean of J and F at either level. The
official DAVIS-2016 toolkit scores frames 1 .. T-2 only (it was made for the semi-supervised task,
where frame 0's mask is given); ``skip_first_last=True`` does the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .davis import DEFAULT_BOUND_TH, frame_scores

MEASURES = ("J", "F", "J&F")


@dataclass(frozen=True)
class SequenceScore:
    name: str
    j_frames: tuple[float, ...]
    f_frames: tuple[float, ...]

    @property
    def frames(self) -> int:
        return len(self.j_frames)

    @property
    def J(self) -> float:  # noqa: N802 - the measure's name
        return float(np.mean(self.j_frames))

    @property
    def F(self) -> float:  # noqa: N802
        return float(np.mean(self.f_frames))

    def as_dict(self) -> dict:
        """J, F and J&F in percent."""
        return percent(self.J, self.F)


def percent(j: float, f: float) -> dict:
    return {"J": 100.0 * j, "F": 100.0 * f, "J&F": 100.0 * (j + f) / 2.0}


def frames_to_score(count: int, skip_first_last: bool) -> range:
    """Indices of the frames that are scored."""
    return range(1, count - 1) if skip_first_last else range(count)


def score_sequence(name: str, pairs: Iterable[tuple[np.ndarray, np.ndarray]],
                   bound_th: float = DEFAULT_BOUND_TH) -> SequenceScore:
    """Scores of the (prediction, ground truth) pairs of one sequence, in frame order."""
    js, fs = [], []
    for pred, gt in pairs:
        j, f = frame_scores(pred, gt, bound_th)
        js.append(j)
        fs.append(f)
    if not js:
        raise ValueError(f"{name}: no frames to score")
    return SequenceScore(name, tuple(js), tuple(fs))


def mean_scores(scores: Sequence[SequenceScore]) -> dict:
    """Data-set means (over sequences) in percent."""
    return percent(float(np.mean([s.J for s in scores])), float(np.mean([s.F for s in scores])))


def report(scores: Sequence[SequenceScore], **settings) -> dict:
    """The JSON document of ``motionseg-trt eval --json``: ``sequences`` and ``mean`` (J, F, J&F in
    percent), plus per-sequence frame counts and the settings used."""
    return {"sequences": {s.name: s.as_dict() for s in scores}, "mean": mean_scores(scores),
            "frames": {s.name: s.frames for s in scores}, "settings": dict(settings)}

