"""``objects.json``: per object its id, colour, first/last frame, score and, per frame, its area, box,
score and a COCO RLE of its mask at the input's size. Written after every other output (with
``run.json``): its presence means the run finished."""
from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from .. import rle
from ..atomic import write_text
from ..palette import DAVIS_PALETTE
from .base import OutputMasks, Sink

OBJECTS_JSON = "objects.json"


class ObjectIndex:
    """Per object id: the frames it appears in, with its area, box ``[x, y, width, height]``, score and a
    COCO RLE of its mask at the input's size."""

    def __init__(self):
        self.objects: dict[int, list[dict]] = {}
        self._last: list[tuple[int, dict]] = []  # (object, entry) of the last frame added

    def add(self, index: int, labels: np.ndarray, scores: Optional[dict] = None, repeat: bool = False) -> None:
        """``scores``: object id -> this frame's score; ``repeat``: ``labels`` are the last frame's
        again (a frame the stages did not process): its entries are copied, not encoded again."""
        if repeat and self._last is not None:
            for obj, entry in self._last:
                self.objects[obj].append(dict(entry, frame=int(index), repeat=True))
            return
        self._last = []
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1
        for obj in present.tolist():
            mask = labels == obj
            entry = {"frame": int(index), "area": int(mask.sum()), "box": _box(mask)}
            if scores and obj in scores:
                entry["score"] = round(float(scores[obj]), 4)
            entry["rle"] = rle.encode(mask)
            self.objects.setdefault(obj, []).append(entry)
            self._last.append((obj, entry))

    def to_json(self) -> list[dict]:
        out = []
        for obj in sorted(self.objects):
            frames = self.objects[obj]
            item = {
                "id": int(obj),
                "color": DAVIS_PALETTE[obj % 256].tolist(),
                "first_frame": frames[0]["frame"],
                "last_frame": frames[-1]["frame"],
                "num_frames": len(frames),
            }
            # the object's score: the mean of its processed frames' scores (repeats count once)
            scored = [f["score"] for f in frames if "score" in f and not f.get("repeat")]
            if scored:
                item["score"] = round(float(np.mean(scored)), 4)
            item["frames"] = [{k: v for k, v in f.items() if k != "repeat"} for f in frames]
            out.append(item)
        return out


def _box(mask: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` of a non-empty mask (COCO's bbox convention, whole pixels)."""
    cols = np.flatnonzero(mask.any(0))
    rows = np.flatnonzero(mask.any(1))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


class ObjectsJsonSink(Sink):
    file_names = (OBJECTS_JSON,)
    marks_complete = True

    def __init__(self, out_dir, info, config):
        super().__init__(out_dir, info, config)
        self.index = ObjectIndex()
        self.frames = 0

    def write(self, frames, masks: OutputMasks) -> None:
        for i in range(len(masks.labels)):
            scores = masks.scores[i] if i < len(masks.scores) else None
            self.index.add(masks.start + i, masks.at_input_size(i), scores, repeat=masks.repeat(i))
        self.frames += len(masks.labels)

    def finish(self, run_info: dict) -> dict[str, str]:
        path = os.path.join(self.out_dir, OBJECTS_JSON)
        write_text(path, json.dumps({
            "format": "motionseg-trt objects v1",
            "rle": "COCO compressed RLE (pycocotools), column-major, size [height, width] of the input",
            "video": {"path": self.info.path, "width": self.info.width, "height": self.info.height,
                      "fps": self.info.fps, "num_frames": self.frames},
            "objects": self.index.to_json(),
        }, separators=(",", ":")))
        return {"objects": path}
