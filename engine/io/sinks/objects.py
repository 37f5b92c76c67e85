"""``objects.json``: per object its id, colour, first/last frame and, per frame, its area and a COCO
RLE of its mask at the input's size. Written after every other output (with ``run.json``): its
presence means the run finished."""
from __future__ import annotations

import json
import os

import numpy as np

from .. import rle
from ..atomic import write_text
from ..palette import DAVIS_PALETTE
from .base import OutputMasks, Sink

OBJECTS_JSON = "objects.json"


class ObjectIndex:
    """Per object id: the frames it appears in, with a COCO RLE of its mask at the input's size."""

    def __init__(self):
        self.objects: dict[int, list[dict]] = {}

    def add(self, index: int, labels: np.ndarray) -> None:
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1
        for obj in present.tolist():
            mask = labels == obj
            self.objects.setdefault(obj, []).append(
                {"frame": int(index), "area": int(mask.sum()), "rle": rle.encode(mask)})

    def to_json(self) -> list[dict]:
        out = []
        for obj in sorted(self.objects):
            frames = self.objects[obj]
            out.append({
                "id": int(obj),
                "color": DAVIS_PALETTE[obj % 256].tolist(),
                "first_frame": frames[0]["frame"],
                "last_frame": frames[-1]["frame"],
                "num_frames": len(frames),
                "frames": frames,
            })
        return out


class ObjectsJsonSink(Sink):
    file_names = (OBJECTS_JSON,)
    marks_complete = True

    def __init__(self, out_dir, info, config):
        super().__init__(out_dir, info, config)
        self.index = ObjectIndex()
        self.frames = 0

    def write(self, frames, masks: OutputMasks) -> None:
        for i in range(len(masks.labels)):
            self.index.add(masks.start + i, masks.at_input_size(i))
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
