"""A folder of image frames (JPEG/PNG, also BMP/TIFF/WebP) as the input video, in natural order
(``frame2.png`` before ``frame10.png``). EXIF orientation is applied like a photo viewer does."""
from __future__ import annotations

import os
import re
from typing import Iterator

import numpy as np

from ..contracts import VideoInfo
from ..errors import InputError
from .decode import DEFAULT_FPS, DecodeStatus, FrameReader, InputFrame, check_frame_size, thumb_size
from .geometry import resize_frame, working_size

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# EXIF orientation tag -> counter-clockwise rotation that makes the picture upright
_EXIF_ROTATION = {3: 180, 6: 270, 8: 90}


def natural_key(name: str):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frames(folder: str) -> list[str]:
    """The image files of ``folder`` in natural order; anything that is not a regular file (a FIFO
    named ``x.png`` would block the reader forever, a folder named ``y.jpg``) is not a frame."""
    names = [n for n in os.listdir(folder)
             if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")
             and os.path.isfile(os.path.join(folder, n))]
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]


def _load_rgb(path: str) -> tuple[np.ndarray, int]:
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        orientation = img.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(img)
        return np.asarray(upright.convert("RGB")), _EXIF_ROTATION.get(orientation, 0)


class ImageFolderReader(FrameReader):
    def __init__(self, folder: str, max_side: int = 960, fps: float = DEFAULT_FPS):
        self.path = folder
        self.status = DecodeStatus()
        self._files = list_frames(folder)
        if not self._files:
            raise InputError(f"no image frames (JPEG/PNG) in folder {folder}")
        try:
            first, rotation = _load_rgb(self._files[0])
        except Exception as exc:  # noqa: BLE001 - any decoder failure means the same to the user
            raise InputError(f"cannot read the first frame {self._files[0]}: {exc}") from None
        height, width = first.shape[:2]
        work_w, work_h = working_size(width, height, max_side)
        check_frame_size(folder, width, height, work_w, work_h, max_side)
        self.info = VideoInfo(path=folder, width=width, height=height, work_width=work_w,
                              work_height=work_h, fps=float(fps), num_frames=len(self._files),
                              rotation=rotation)

    def input_frames(self) -> Iterator[InputFrame]:
        info = self.info
        for index, path in enumerate(self._files):
            try:
                image, _ = _load_rgb(path)
            except Exception as exc:  # noqa: BLE001
                self._stop(index, f"cannot read {os.path.basename(path)}: {exc}")
                return
            if image.shape[:2] != (info.height, info.width):
                self._stop(index, f"{os.path.basename(path)} is {image.shape[1]}x{image.shape[0]}, "
                                  f"the first frame is {info.width}x{info.height}")
                return
            self.status.frames_decoded += 1
            yield _ImageInputFrame(image, index, index / info.fps, (info.work_width, info.work_height))

    def _stop(self, index: int, reason: str) -> None:
        self.status.error = reason
        self.status.stopped_at = index


class _ImageInputFrame(InputFrame):
    __slots__ = ("_image", "_work")

    def __init__(self, image: np.ndarray, index: int, time: float, work: tuple[int, int]):
        super().__init__(index, time)
        self._image, self._work = image, work

    def image(self) -> np.ndarray:
        return resize_frame(self._image, *self._work)

    def thumbnail(self) -> np.ndarray:
        import cv2

        h, w = self._image.shape[:2]
        return cv2.resize(self._image, thumb_size(w, h), interpolation=cv2.INTER_AREA)
