"""The output folder: refuse to write into a non-empty one unless asked, and with ``overwrite`` clear
only what a previous run wrote (never a user's other files): the files of every registered output
format (:mod:`.sinks`, their ``file_names``) and ``run.json``."""
from __future__ import annotations

import contextlib
import glob
import os

from ..errors import OutputExistsError
from .atomic import remove_temp_files

RUN_JSON = "run.json"


def our_files() -> list[str]:
    """Glob patterns (relative to the output folder) of everything a run writes."""
    from .sinks import sink_classes

    return [pattern for cls in sink_classes() for pattern in cls.file_names] + [RUN_JSON]


def check_output_dir(out: str, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` if ``out`` cannot be used; creates nothing."""
    if not out:
        raise OutputExistsError("no output folder given (--out DIR)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputExistsError(f"output path exists and is not a folder: {out}")
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise OutputExistsError(f"output folder is not empty: {out} (use --overwrite to replace its results)")


def prepare_output_dir(out: str, overwrite: bool) -> None:
    """Check, clear the previous run's results when overwriting, and create ``out``."""
    check_output_dir(out, overwrite)
    if os.path.isdir(out) and overwrite:
        clear_previous_results(out)
    os.makedirs(out, exist_ok=True)


def clear_previous_results(out: str) -> None:
    # Stale masks from a longer earlier run would otherwise sit beside the new ones.
    folders = {out}
    for pattern in our_files():
        for path in glob.glob(os.path.join(glob.escape(out), pattern)):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.remove(path)
        folders.add(os.path.dirname(os.path.join(out, pattern)))
    for folder in folders:
        remove_temp_files(folder)
