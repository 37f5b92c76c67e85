"""The object filter: between the densifier and the writers, for any densifier.

An object is written only once it has shown evidence: a median area of at least ``obj_min_area`` of
the frame, a life of at least ``obj_min_duration`` seconds, and a score of at least ``obj_min_score``.
Its score is the mean, over the frames where tracks fall inside its mask, of those tracks' motion
probability (the labeller's): a blob that the densifier grew around a few doubtful tracks scores low.

An object that the densifier loses and finds again under a new id (fast motion ends its tracks) is
the same object: a new id that appears within ``obj_relink_s`` seconds where an object of the scene
that is no longer there would now be (its last mask moved on at its last velocity and grown by its own
size plus 5 % of the frame's) continues that object, with its evidence and its output id.

Streaming: frames wait ``obj_min_duration`` seconds (of processed frames) before they are written, so
that an object's first frames are judged with that much of its future; a frame leaves when newer
frames cover that time, or when its scene or the video ends. Objects that never qualify are erased
from the masks (background). Objects that qualify get the output ids 1, 2, 3 ... in the order they
appear; an object never continues across a scene cut (a new scene starts new objects). After 255
objects (the masks are uint8) the ids of objects that are gone are reused.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..config import RunConfig
from ..contracts import FrameWindow, MotionLabels, Tracks, WindowMasks
from ..options import Option, read_options
from ..results import frame_scores

# Defaults from the 30 davis16-dev clips (docs/notes/footage.md): they drop most of the objects that lie
# off the ground truth and keep small real ones (a paraglider is 0.09 % of the frame).
OPTIONS = (
    Option("obj_min_area", 0.0005, "smallest median area of an object over its frames, as a fraction of the frame",
           minimum=0.0, maximum=1.0),
    Option("obj_min_duration", 0.4, "shortest life of an object, seconds from its first to its last frame (plus "
                                    "one frame)", minimum=0.0),
    Option("obj_min_score", 0.5, "smallest score of an object: the mean motion probability of the tracks inside "
                                 "its mask", minimum=0.0, maximum=1.0),
    Option("obj_relink_s", 0.5, "a new id where a lost object would now be, at most this many seconds after it "
                                "was lost, continues it (0: never)", minimum=0.0),
)

RELINK_STEP = 4  # px: the last mask of each object is kept at 1/4 of the working resolution
RELINK_GROW = 0.05  # of the frame's sqrt(area): how near a new id must appear to a lost object
RELINK_OVERLAP = 0.3  # of the smaller of the two masks

# "Visible motion" for the warning that nothing was found: a window where at least this fraction of the
# tracks was labelled moving, or a picture whose tracks move (90th percentile) this many frame sizes
# per second.
MOVING_TRACKS_VISIBLE = 0.01
PICTURE_MOVES = 0.05


@dataclass
class OutputFrame:
    """A processed frame on its way to the writers: final object ids, at working resolution."""

    index: int  # input frame number
    time: float
    labels: np.ndarray  # [H, W] uint8
    scores: dict = field(default_factory=dict)  # output id -> this frame's score (tracks inside)


@dataclass
class Evidence:
    """What a (scene, densifier id) object has shown so far."""

    key: tuple
    first_time: float
    last_time: float
    areas: list = field(default_factory=list)  # area fraction per frame present
    score_sum: float = 0.0
    score_frames: int = 0
    output_id: int = 0  # 0 until it qualifies
    last_mask: Optional[np.ndarray] = None  # [h/4, w/4] bool, where it was last seen
    centroid: Optional[np.ndarray] = None  # (x, y) of last_mask
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # of the centroid, px (1/4 res) per s

    @property
    def score(self) -> float:
        return self.score_sum / self.score_frames if self.score_frames else 0.0

    def duration(self, interval: float) -> float:
        return self.last_time - self.first_time + interval

    def to_dict(self, interval: float) -> dict:
        return {"id": self.output_id, "frames": len(self.areas), "duration_s": round(self.duration(interval), 3),
                "median_area": round(float(np.median(self.areas)), 5) if self.areas else 0.0,
                "score": round(self.score, 4)}


@dataclass
class _Pending:
    frame: OutputFrame
    raw: np.ndarray  # densifier ids
    scene: int
    frame_scores: dict  # densifier id -> score


class ObjectFilter:
    """``add(window, tracks, labels, masks) -> [OutputFrame]`` (the frames now final, in order);
    ``flush()`` at the end of the video."""

    def __init__(self, config: Optional[RunConfig] = None):
        opt = read_options(config or RunConfig(), OPTIONS)
        self.min_area = float(opt["obj_min_area"])
        self.min_duration = float(opt["obj_min_duration"])
        self.min_score = float(opt["obj_min_score"])
        self.relink_s = float(opt["obj_relink_s"])
        self.objects: dict[tuple, Evidence] = {}
        self._alias: dict[tuple, tuple] = {}  # (scene, densifier id) -> key of the object it continues
        self._pending: deque[_Pending] = deque()
        self._scene_times: dict[int, tuple[float, float]] = {}  # scene -> (first, last) time seen
        self._next_id = 1
        self._live: dict[int, tuple] = {}  # output id -> key of the object that holds it
        self._interval = 1.0 / 24.0  # seconds per processed frame, updated from the windows
        self.frames_seen = 0
        # per window: fraction of the tracks labelled moving, and how fast the picture moves (90th
        # percentile of the tracks' speeds, in frame sizes (sqrt of the area) per second)
        self.moving_fractions: list[float] = []
        self.picture_speeds: list[float] = []

    # ------------------------------------------------------------------ evidence
    def _observe(self, scene: int, time: float, raw: np.ndarray, scores: dict) -> None:
        counts = np.bincount(raw.ravel(), minlength=256)
        total = float(raw.size)
        small = raw[::RELINK_STEP, ::RELINK_STEP]
        present = [int(o) for o in np.flatnonzero(counts[1:]) + 1]
        # known ids first: a new one may only continue an object that is not in this frame
        present.sort(key=lambda o: self._key(scene, o) not in self.objects)
        here: set = set()
        for obj in present:
            key = self._key(scene, obj)
            ev = self.objects.get(key)
            mask = small == obj
            if ev is None:
                ev = self._predecessor(scene, time, mask, here)
                if ev is not None:
                    self._alias[(scene, obj)] = ev.key
                else:
                    ev = self.objects[key] = Evidence(key, time, time)
            here.add(ev.key)
            ys, xs = np.nonzero(mask)
            if len(xs):
                centroid = np.array([xs.mean(), ys.mean()])
                if ev.centroid is not None and time > ev.last_time:
                    step = (centroid - ev.centroid) / (time - ev.last_time)
                    ev.velocity = step if len(ev.areas) < 2 else 0.5 * (ev.velocity + step)
                ev.centroid = centroid
            ev.last_time = time
            ev.last_mask = mask
            ev.areas.append(counts[obj] / total)
            if obj in scores:
                ev.score_sum += scores[obj]
                ev.score_frames += 1

    def _key(self, scene: int, obj: int) -> tuple:
        return self._alias.get((scene, obj), (scene, obj))

    def _predecessor(self, scene: int, time: float, mask: np.ndarray, here: set) -> Optional[Evidence]:
        """The object of this scene, gone for at most ``relink_s``, whose last mask (grown) holds
        most of ``mask``; None when there is none."""
        if self.relink_s <= 0:
            return None
        import cv2

        best, best_overlap = None, 0.0
        h, w = mask.shape
        for ev in self.objects.values():
            if ev.key[0] != scene or ev.key in here or ev.last_mask is None or ev.last_mask.shape != mask.shape:
                continue
            gone = time - ev.last_time
            if not (0 < gone <= self.relink_s + 1e-6):
                continue
            # where it would be now, give or take its own size (fast objects are lost most)
            size = np.sqrt(float(np.median(ev.areas)) * h * w)
            grow = max(1, int(round(RELINK_GROW * np.sqrt(h * w) + size)))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
            dx, dy = ev.velocity * gone
            moved = cv2.warpAffine(ev.last_mask.view(np.uint8), np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                                   flags=cv2.INTER_NEAREST)
            grown = cv2.dilate(moved, kernel) > 0
            overlap = float(np.logical_and(grown, mask).sum()) / max(1, min(int(mask.sum()), int(ev.last_mask.sum())))
            if overlap >= RELINK_OVERLAP and overlap > best_overlap:
                best, best_overlap = ev, overlap
        return best

    def qualifies(self, ev: Evidence, scene_span: Optional[float] = None) -> bool:
        """``scene_span``: the length of the object's scene once it has ended; an object that lives
        through a scene shorter than ``obj_min_duration`` has shown all the time it could."""
        need = self.min_duration if scene_span is None else min(self.min_duration, 0.9 * scene_span)
        return (ev.duration(self._interval) >= need - 1e-6
                and float(np.median(ev.areas)) >= self.min_area and ev.score >= self.min_score)

    # ------------------------------------------------------------------ stream
    def add(self, window: FrameWindow, tracks: Tracks, labels: MotionLabels, masks: WindowMasks) -> list[OutputFrame]:
        if window.frame_interval:
            self._interval = window.frame_interval
        self._motion_stats(window, tracks, labels)
        prob = np.asarray(labels.prob, np.float32)
        for k, local in enumerate(range(window.emit_from, window.length)):
            raw = masks.labels[k]
            time = float(window.times[local]) if window.times is not None else (window.start + local) / 24.0
            index = int(window.frame_index[local]) if window.frame_index is not None else window.start + local
            scores = frame_scores(raw, tracks.xy[:, local], tracks.visible[:, local], prob)
            self._observe(window.scene, time, raw, scores)
            first = self._scene_times.get(window.scene, (time, time))[0]
            self._scene_times[window.scene] = (first, time)
            self._pending.append(_Pending(OutputFrame(index, time, raw), raw, window.scene, scores))
            self.frames_seen += 1
        self._forget_masks(window.scene)
        newest = self._pending[-1] if self._pending else None
        out = []
        while self._pending and self._pending[0].scene != newest.scene:  # a scene that has ended
            item = self._pending.popleft()
            out.append(self._release(item, self._scene_span(item.scene)))
        while self._pending and newest.frame.time - self._pending[0].frame.time >= self.min_duration - 1e-6:
            out.append(self._release(self._pending.popleft()))
        return out

    def _forget_masks(self, scene: int) -> None:
        """Memory stays flat on a long video: the last masks of objects that can no longer be
        continued (gone longer than ``obj_relink_s``, or of an earlier scene) are dropped."""
        now = self._scene_times[scene][1] if scene in self._scene_times else None
        for ev in self.objects.values():
            if ev.last_mask is not None and (ev.key[0] != scene or now is None
                                             or now - ev.last_time > self.relink_s + 1e-6):
                ev.last_mask = None

    def _scene_span(self, scene: int) -> float:
        """Seconds from the first to the last frame seen of ``scene`` (plus one frame)."""
        return self._scene_times[scene][1] - self._scene_times[scene][0] + self._interval

    def flush(self) -> list[OutputFrame]:
        """The frames still waiting (end of the video)."""
        out = []
        while self._pending:
            item = self._pending.popleft()
            out.append(self._release(item, self._scene_span(item.scene)))
        return out

    def _release(self, item: _Pending, scene_span: Optional[float] = None) -> OutputFrame:
        lut = np.zeros(256, np.uint8)
        scores = {}
        for obj in np.flatnonzero(np.bincount(item.raw.ravel(), minlength=256)[1:]) + 1:
            ev = self.objects[self._key(item.scene, int(obj))]
            if not ev.output_id and self.qualifies(ev, scene_span):
                ev.output_id = self._new_id(ev.key, item.scene)
            if ev.output_id:
                lut[obj] = ev.output_id
                if int(obj) in item.frame_scores:
                    scores[ev.output_id] = round(item.frame_scores[int(obj)], 4)
        frame = item.frame
        frame.labels = lut[item.raw]
        frame.scores = scores
        return frame

    def _new_id(self, key: tuple, scene: int) -> int:
        if self._next_id <= 255:
            new, self._next_id = self._next_id, self._next_id + 1
        else:  # reuse the id of an object of an earlier scene, or the one seen longest ago
            gone = [i for i, k in self._live.items() if k[0] != scene]
            new = min(gone) if gone else min(self._live, key=lambda i: self.objects[self._live[i]].last_time)
        self._live[new] = key
        return new

    def _motion_stats(self, window: FrameWindow, tracks: Tracks, labels: MotionLabels) -> None:
        n = tracks.num_tracks
        self.moving_fractions.append(float(np.mean(labels.moving)) if n else 0.0)
        if n and window.length > 1:
            both = tracks.visible[:, 0] & tracks.visible[:, -1]
            if both.any():
                h, w = window.frames.shape[1:3]
                span = (window.frame_interval or 1.0 / 24.0) * (window.length - 1)
                dist = np.linalg.norm(tracks.xy[both, -1] - tracks.xy[both, 0], axis=1)
                self.picture_speeds.append(float(np.percentile(dist, 90)) / np.sqrt(h * w) / span)

    def warnings(self) -> list[str]:
        """Say so when nothing was found although something moved."""
        if self.num_objects or not self.frames_seen:
            return []
        if self.objects:
            best = max(self.objects.values(), key=lambda ev: (ev.score, len(ev.areas)))
            return [f"no moving object written: {len(self.objects)} candidate(s) did not show enough evidence "
                    f"(the best: {best.duration(self._interval):.2f} s, median area "
                    f"{100 * float(np.median(best.areas)):.2f}% of the frame, score {best.score:.2f}; needed "
                    f"{self.min_duration:g} s, {100 * self.min_area:g}%, {self.min_score:g}: --option "
                    f"obj_min_duration / obj_min_area / obj_min_score)"]
        moving = float(np.mean([f >= MOVING_TRACKS_VISIBLE for f in self.moving_fractions]))
        speed = float(np.median(self.picture_speeds)) if self.picture_speeds else 0.0
        if moving >= 0.2:
            return [f"no moving object found, although the motion model called tracks moving in "
                    f"{100 * moving:.0f}% of the windows (they formed no object)"]
        if speed >= PICTURE_MOVES:
            return [f"no moving object found, although the picture moves (tracks move {100 * speed:.0f}% of "
                    f"the frame per second: camera or objects)"]
        return []

    # ------------------------------------------------------------------ report
    @property
    def num_objects(self) -> int:
        return sum(1 for ev in self.objects.values() if ev.output_id)

    def object_scores(self) -> dict:
        """Output id -> object score (mean over its frames so far)."""
        return {ev.output_id: round(ev.score, 4) for ev in self.objects.values() if ev.output_id}

    def report(self) -> dict:
        kept = [ev for ev in self.objects.values() if ev.output_id]
        return {"min_area": self.min_area, "min_duration_s": self.min_duration, "min_score": self.min_score,
                "candidates": len(self.objects), "kept": len(kept),
                "kept_objects": [ev.to_dict(self._interval) for ev in kept],
                "dropped": [ev.to_dict(self._interval) for ev in self.objects.values() if not ev.output_id][:50]}
