"""``masks/00000.png ...``: one DAVIS-palette indexed PNG per input frame at the input's size
(0 background, k object k), labels scaled up from the working resolution by nearest neighbour; a
frame that repeats the mask of the frame before it (one the stages did not process) is a copy of its
file."""
from __future__ import annotations

import os

import numpy as np

from ..atomic import atomic_path, remove_temp_files
from ..palette import DAVIS_PALETTE
from .base import OutputMasks, Sink

MASKS_DIR = "masks"


def mask_filename(index: int) -> str:
    return f"{index:05d}.png"


def write_mask_png(folder: str, index: int, labels: np.ndarray) -> str:
    """One indexed PNG with the DAVIS palette, written atomically."""
    from PIL import Image

    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    image = Image.frombytes("P", (labels.shape[1], labels.shape[0]), labels.tobytes())
    image.putpalette(DAVIS_PALETTE.tobytes())
    path = os.path.join(folder, mask_filename(index))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", compress_level=3)
    return path


def copy_mask_png(folder: str, source: int, index: int) -> str:
    """Mask ``index`` as a copy of mask ``source`` (a frame that repeats the one before it)."""
    import shutil

    path = os.path.join(folder, mask_filename(index))
    with atomic_path(path) as tmp:
        shutil.copyfile(os.path.join(folder, mask_filename(source)), tmp)
    return path


class MaskPngSink(Sink):
    file_names = (f"{MASKS_DIR}/*.png",)

    def __init__(self, out_dir, info, config):
        super().__init__(out_dir, info, config)
        self.folder = os.path.join(out_dir, MASKS_DIR)
        os.makedirs(self.folder, exist_ok=True)

    def write(self, frames, masks: OutputMasks) -> None:
        for i in range(len(masks.labels)):
            index = masks.start + i
            if masks.repeat(i) and index > 0:  # the same mask as the frame before: the same file
                copy_mask_png(self.folder, index - 1, index)
            else:
                write_mask_png(self.folder, index, masks.at_input_size(i))

    def finish(self, run_info: dict) -> dict[str, str]:
        return {"masks": self.folder}

    def abort(self) -> None:
        remove_temp_files(self.folder)
