"""``objects.json``: per object its id, colour, first/last frame, score and, per frame, its area, box,
score and a COCO RLE of its mask at the input's size. Written after every other output (with
``run.json``): its presence means the run finished.

The per-frame records (about 2 KB each) do not stay in memory: they are appended to an unnamed
temporary file in the output folder (gone when closed, or when the process dies) and streamed into
``objects.json`` at the end; memory holds two integers per object and frame (where each record is),
an object's score sum, and the records of the last frame (a repeated frame copies them).
"""
from __future__ import annotations

import json
import os
import tempfile
from array import array
from typing import Iterator, Optional

import numpy as np

from .. import rle
from ..atomic import atomic_path
from ..palette import DAVIS_PALETTE
from .base import OutputMasks, Sink

OBJECTS_JSON = "objects.json"
FORMAT = "motionseg-trt objects v1"
_COMPACT = (",", ":")


class ObjectIndex:
    """Per object id: the frames it appears in, with its area, box ``[x, y, width, height]``, score and a
    COCO RLE of its mask at the input's size, spilled to a temporary file in ``folder`` (the system's
    temporary folder when None)."""

    def __init__(self, folder: Optional[str] = None):
        self._spill = tempfile.TemporaryFile(dir=folder, prefix=".objects-spill-")
        self._end = 0
        self._where: dict[int, array] = {}  # id -> offsets and lengths, interleaved
        self._first: dict[int, int] = {}
        self._last_frame: dict[int, int] = {}
        self._scores: dict[int, list[float]] = {}  # id -> [sum, count] of its processed frames' scores
        self._last: Optional[list[tuple[int, dict]]] = None  # (object, record) of the last frame added

    def add(self, index: int, labels: np.ndarray, scores: Optional[dict] = None, repeat: bool = False) -> None:
        """``scores``: object id -> this frame's score; ``repeat``: ``labels`` are the last frame's
        again (a frame the stages did not process): its records are copied, not encoded again, and its
        scores do not count twice in the object's score."""
        if repeat and self._last is not None:
            for obj, record in self._last:
                self._append(obj, dict(record, frame=int(index)))
            return
        self._last = []
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1
        for obj in present.tolist():
            mask = labels == obj
            record = {"frame": int(index), "area": int(mask.sum()), "box": _box(mask)}
            if scores and obj in scores:
                record["score"] = round(float(scores[obj]), 4)
                total = self._scores.setdefault(obj, [0.0, 0])
                total[0] += record["score"]
                total[1] += 1
            record["rle"] = rle.encode(mask)
            self._append(obj, record)
            self._last.append((obj, record))

    def _append(self, obj: int, record: dict) -> None:
        data = json.dumps(record, separators=_COMPACT).encode()
        self._spill.seek(self._end)
        self._spill.write(data)
        self._where.setdefault(obj, array("q")).extend((self._end, len(data)))
        self._end += len(data)
        self._first.setdefault(obj, record["frame"])
        self._last_frame[obj] = record["frame"]

    @property
    def ids(self) -> list[int]:
        return sorted(self._where)

    def _records(self, obj: int) -> Iterator[bytes]:
        where = self._where[obj]
        for i in range(0, len(where), 2):
            self._spill.seek(where[i])
            yield self._spill.read(where[i + 1])

    def _header(self, obj: int) -> dict:
        head = {"id": int(obj), "color": DAVIS_PALETTE[obj % 256].tolist(), "first_frame": self._first[obj],
                "last_frame": self._last_frame[obj], "num_frames": len(self._where[obj]) // 2}
        if obj in self._scores:  # the mean of its processed frames' scores (repeats count once)
            total, count = self._scores[obj]
            head["score"] = round(total / count, 4)
        return head

    def to_json(self) -> list[dict]:
        """Every object with its frames, in memory (for tests and small clips)."""
        return [{**self._header(obj), "frames": [json.loads(r) for r in self._records(obj)]} for obj in self.ids]

    def write_objects(self, f) -> None:
        """The JSON list of :meth:`to_json`, written to the text file ``f`` one record at a time."""
        self._spill.flush()
        f.write("[")
        for k, obj in enumerate(self.ids):
            head = json.dumps(self._header(obj), separators=_COMPACT)
            f.write(("," if k else "") + head[:-1] + ',"frames":[')
            for j, record in enumerate(self._records(obj)):
                f.write(("," if j else "") + record.decode())
            f.write("]}")
        f.write("]")

    def close(self) -> None:
        self._spill.close()


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
        self.index = ObjectIndex(out_dir)  # on the output's file system: it ends up there anyway
        self.frames = 0

    def write(self, frames, masks: OutputMasks) -> None:
        for i in range(len(masks.labels)):
            scores = masks.scores[i] if i < len(masks.scores) else None
            self.index.add(masks.start + i, masks.at_input_size(i), scores, repeat=masks.repeat(i))
        self.frames += len(masks.labels)

    def finish(self, run_info: dict) -> dict[str, str]:
        path = os.path.join(self.out_dir, OBJECTS_JSON)
        head = json.dumps({
            "format": FORMAT,
            "rle": "COCO compressed RLE (pycocotools), column-major, size [height, width] of the input",
            "video": {"path": self.info.path, "width": self.info.width, "height": self.info.height,
                      "fps": self.info.fps, "num_frames": self.frames},
            "objects": [],
        }, separators=_COMPACT)
        with atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(head[:-len("[]}")])
                self.index.write_objects(f)
                f.write("}")
                f.flush()
                os.fsync(f.fileno())
        self.index.close()
        return {"objects": path}

    def abort(self) -> None:
        self.index.close()
