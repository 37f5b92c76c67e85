"""``objects.json``: per object its id, colour, first/last frame and, per frame, its area and a COCO
RLE of its mask at the input's size. Written after every other output (with ``run.json``): its
presence means the run finished.

The per-frame records (about 2 KB each) do not stay in memory: they are appended to an unnamed
temporary file in the output folder (gone when closed, or when the process dies) and streamed into
``objects.json`` at the end; memory holds two integers per object and frame (where each record is).
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
    """Per object id: the frames it appears in, with a COCO RLE of its mask at the input's size,
    spilled to a temporary file in ``folder`` (the system's temporary folder when None)."""

    def __init__(self, folder: Optional[str] = None):
        self._spill = tempfile.TemporaryFile(dir=folder, prefix=".objects-spill-")
        self._end = 0
        self._where: dict[int, array] = {}  # id -> offsets and lengths, interleaved
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}

    def add(self, index: int, labels: np.ndarray) -> None:
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1
        for obj in present.tolist():
            mask = labels == obj
            record = json.dumps({"frame": int(index), "area": int(mask.sum()), "rle": rle.encode(mask)},
                                separators=_COMPACT).encode()
            self._spill.seek(self._end)
            self._spill.write(record)
            self._where.setdefault(obj, array("q")).extend((self._end, len(record)))
            self._end += len(record)
            self._first.setdefault(obj, int(index))
            self._last[obj] = int(index)

    @property
    def ids(self) -> list[int]:
        return sorted(self._where)

    def _records(self, obj: int) -> Iterator[bytes]:
        where = self._where[obj]
        for i in range(0, len(where), 2):
            self._spill.seek(where[i])
            yield self._spill.read(where[i + 1])

    def _header(self, obj: int) -> dict:
        return {"id": int(obj), "color": DAVIS_PALETTE[obj % 256].tolist(), "first_frame": self._first[obj],
                "last_frame": self._last[obj], "num_frames": len(self._where[obj]) // 2}

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


class ObjectsJsonSink(Sink):
    file_names = (OBJECTS_JSON,)
    marks_complete = True

    def __init__(self, out_dir, info, config):
        super().__init__(out_dir, info, config)
        self.index = ObjectIndex(out_dir)  # on the output's file system: it ends up there anyway
        self.frames = 0

    def write(self, frames, masks: OutputMasks) -> None:
        for i in range(len(masks.labels)):
            self.index.add(masks.start + i, masks.at_input_size(i))
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
