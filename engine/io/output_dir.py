"""The output folder: refuse to write into a non-empty one unless asked, and with ``overwrite`` clear
only what a previous run wrote (never a user's other files)."""
from __future__ import annotations

import contextlib
import os

from ..errors import OutputExistsError
from .atomic import remove_temp_files

MASKS_DIR = "masks"
OVERLAY = "overlay.mp4"
OVERLAY_PARTIAL = "overlay.mp4.partial"
OBJECTS_JSON = "objects.json"
RUN_JSON = "run.json"
OUR_FILES = (OVERLAY, OVERLAY_PARTIAL, OBJECTS_JSON, RUN_JSON)


def check_output_dir(out: str, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` if ``out`` cannot be used; creates nothing."""
    if not out:
        raise OutputExistsError("no output folder given (--out DIR)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputExistsError(f"output path exists and is not a folder: {out}")
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise OutputExistsError(f"output folder is not empty: {out} (use --overwrite to replace its results)")


def prepare_output_dir(out: str, overwrite: bool) -> None:
    """Check, clear the previous run's results when overwriting, and create ``out/masks``."""
    check_output_dir(out, overwrite)
    if os.path.isdir(out) and overwrite:
        clear_previous_results(out)
    os.makedirs(os.path.join(out, MASKS_DIR), exist_ok=True)


def clear_previous_results(out: str) -> None:
    # Stale masks from a longer earlier run would otherwise sit beside the new ones.
    masks = os.path.join(out, MASKS_DIR)
    if os.path.isdir(masks):
        for name in os.listdir(masks):
            if name.endswith(".png"):
                os.remove(os.path.join(masks, name))
        remove_temp_files(masks)
    for name in OUR_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out, name))
    remove_temp_files(out)
