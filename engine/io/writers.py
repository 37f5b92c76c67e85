"""The outputs of a run, written as frames are emitted:

* ``masks/00000.png`` ... one DAVIS-palette indexed PNG per input frame at the input's size
  (0 background, k object k), labels scaled up from the working resolution by nearest neighbour; an
  input frame the stages did not process (sampled out in time, or a repeat) gets the mask of the
  processed frame before it;
* ``overlay.mp4``: H.264 (yuv420p) of the masks and ids over every input frame, at the input's size
  (or ``--overlay-size``), with the input's audio (:mod:`.overlay`); written as
  ``overlay.mp4.partial`` and renamed when complete;
* ``objects.json``: per object its id, first/last frame and a COCO RLE per frame (input size);
* ``run.json``: configuration, versions, per-stage time, fps, warnings.

Every file appears under its final name only when complete (see :mod:`.atomic`); ``objects.json`` and
``run.json`` are written last, so their presence means the run finished.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from ..contracts import VideoInfo, WindowMasks
from . import rle
from .atomic import atomic_path, remove_temp_files, write_text
from .geometry import resize_labels
from .output_dir import MASKS_DIR, OBJECTS_JSON, RUN_JSON
from .overlay import OverlayVideo, colour_overlay  # noqa: F401 - colour_overlay: part of this module's API
from .palette import DAVIS_PALETTE



def mask_filename(index: int) -> str:
    return f"{index:05d}.png"


class MaskPngWriter:
    """Indexed PNGs with the DAVIS palette."""

    def __init__(self, folder: str):
        self.folder = folder
        self._palette = DAVIS_PALETTE.tobytes()

    def write(self, index: int, labels: np.ndarray) -> str:
        from PIL import Image

        labels = np.ascontiguousarray(labels, dtype=np.uint8)
        image = Image.frombytes("P", (labels.shape[1], labels.shape[0]), labels.tobytes())
        image.putpalette(self._palette)
        path = os.path.join(self.folder, mask_filename(index))
        with atomic_path(path) as tmp:
            image.save(tmp, format="PNG", compress_level=3)
        return path


class ObjectIndex:
    """Per object id: the frames it appears in, with its area, box ``[x, y, width, height]``, score and a
    COCO RLE of its mask at the input's size."""

    def __init__(self):
        self.objects: dict[int, list[dict]] = {}
        self._last: list[tuple[int, dict]] = []  # (object, entry) of the last frame added

    def add(self, index: int, labels: np.ndarray, scores: Optional[dict] = None, repeat: bool = False) -> None:
        """``scores``: object id -> this frame's score; ``repeat``: ``labels`` are the last frame's
        again (a frame the stages did not process): its entries are copied, not encoded again."""
        if repeat:
            for obj, entry in self._last:
                self.objects[obj].append(dict(entry, frame=int(index)))
            return
        self._last = []
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=2)[1:]) + 1
        for obj in present.tolist():
            mask = labels == obj
            entry = {"frame": int(index), "area": int(mask.sum()), "box": _box(mask)}
            if scores and obj in scores:
                entry["score"] = scores[obj]
            entry["rle"] = rle.encode(mask)
            self.objects.setdefault(obj, []).append(entry)
            self._last.append((obj, entry))

    def to_json(self, object_scores: Optional[dict] = None) -> list[dict]:
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
            if object_scores and obj in object_scores:
                item["score"] = object_scores[obj]
            item["frames"] = frames
            out.append(item)
        return out


def _box(mask: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` of a non-empty mask (COCO's bbox convention, whole pixels)."""
    cols = np.flatnonzero(mask.any(0))
    rows = np.flatnonzero(mask.any(1))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


class OutputWriter:
    """Consumes each window's :class:`WindowMasks` and writes every output of the run."""

    def __init__(self, out_dir: str, info: VideoInfo, write_overlay: bool = True,
                 threads: Optional[int] = None, overlay_size: Optional[str] = None):
        self.out_dir = out_dir
        self.info = info
        self.masks_dir = os.path.join(out_dir, MASKS_DIR)
        os.makedirs(self.masks_dir, exist_ok=True)
        self.pngs = MaskPngWriter(self.masks_dir)
        self.objects = ObjectIndex()
        self.overlay = OverlayVideo(out_dir, info, overlay_size, threads) if write_overlay else None
        self.frames_written = 0
        self._last = None  # the last frame written, and its mask at the input's size
        self._last_full: Optional[np.ndarray] = None

    def write(self, frames: np.ndarray, masks: WindowMasks) -> None:
        """``frames``: the working-resolution RGB frames of ``masks`` (same length, same order), one
        per input frame from ``masks.start`` on."""
        from ..masks.objects import OutputFrame

        if masks.start != self.frames_written:
            raise RuntimeError(f"frames must be written in order: got {masks.start}, "
                               f"expected {self.frames_written}")
        self.write_frames([OutputFrame(index=masks.start + i, time=0.0, labels=labels)
                           for i, labels in enumerate(masks.labels)])

    def write_frames(self, frames: list) -> None:
        """:class:`~motionseg_trt.masks.objects.OutputFrame` s in input order; the input frames between
        two of them get the earlier one's mask."""
        for frame in frames:
            if frame.index < self.frames_written:
                raise RuntimeError(f"frames must be written in order: got {frame.index}, "
                                   f"expected {self.frames_written} or later")
            self.fill_to(frame.index)
            self._write_one(frame)

    def fill_to(self, end: int) -> None:
        """Input frames ``frames_written .. end - 1`` get the last written frame's mask."""
        if self.frames_written < end and self._last is None:
            raise RuntimeError(f"frames must be written in order: input frame {self.frames_written} has no "
                               f"processed frame at or before it")
        while self.frames_written < end:
            self._write_one(self._last, repeat=True)

    def _write_one(self, frame, repeat: bool = False) -> None:
        info, index = self.info, self.frames_written
        if not repeat:
            self._last_full = resize_labels(frame.labels, info.width, info.height)
        full = self._last_full
        self.pngs.write(index, full)
        self.objects.add(index, full, frame.scores, repeat=repeat)
        if self.overlay is not None:
            self.overlay.write(index, frame.labels)
        self._last = frame
        self.frames_written += 1

    @property
    def num_objects(self) -> int:
        return len(self.objects.objects)

    def finish(self, run_info: dict, total_frames: Optional[int] = None,
               object_scores: Optional[dict] = None) -> dict:
        """Fill the masks up to ``total_frames`` input frames, close the overlay, then write objects.json
        and run.json (last: they mark a finished run). ``object_scores``: output id -> score."""
        if total_frames is not None and self._last is not None:
            self.fill_to(total_frames)
        paths = {"masks": self.masks_dir}
        if self.overlay is not None:
            run_info.setdefault("warnings", []).extend(self.overlay.notes)
            paths["overlay"] = self.overlay.close()
        objects_path = os.path.join(self.out_dir, OBJECTS_JSON)
        write_text(objects_path, json.dumps({
            "format": "motionseg-trt objects v1",
            "rle": "COCO compressed RLE (pycocotools), column-major, size [height, width] of the input",
            "video": {"path": self.info.path, "width": self.info.width, "height": self.info.height,
                      "fps": self.info.fps, "num_frames": self.frames_written},
            "objects": self.objects.to_json(object_scores),
        }, separators=(",", ":")))
        paths["objects"] = objects_path
        run_path = os.path.join(self.out_dir, RUN_JSON)
        run_info = dict(run_info, outputs={k: os.path.relpath(v, self.out_dir) for k, v in paths.items()})
        write_text(run_path, json.dumps(run_info, indent=2, default=_json_default))
        paths["run"] = run_path
        return paths

    def abort(self) -> None:
        """Leave only complete files: drop the partial overlay and any temporary files."""
        if self.overlay is not None:
            self.overlay.abort()
        remove_temp_files(self.masks_dir)
        remove_temp_files(self.out_dir)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
