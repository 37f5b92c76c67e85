"""The inputs of a batch and the result folder of each.

An input is a video file or a frame folder. A folder that holds no image frames but videos, frame
folders, or folders of one video each (a data set's ``<seq>/clip.mp4``) is a folder of inputs: each
one is an input. ``--list FILE`` names one input per line (blank lines and ``#`` comments skipped;
relative paths are relative to the list's folder).

Each input's results go to ``OUT/<name>``: the video's name without its extension (a frame folder's
whole name). Inputs of the same name are named by their folders instead (``bear/clip.mp4``,
``boat/clip.mp4`` -> ``bear``, ``boat``: the names ``motionseg-trt eval`` matches to a data set's
sequences), with more parent folders joined by ``-`` where one is not enough. A name does not
depend on the order of the inputs, so a second call finds the same folders; the same file given twice
is run once.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from ..errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
                  ".wmv", ".flv", ".3gp", ".ogv", ".y4m")


def _has_frames(folder: str) -> bool:
    from ..io.frame_folder import list_frames

    return bool(list_frames(folder))


def folder_inputs(folder: str) -> list[str]:
    """The inputs inside a folder of inputs (videos and frame folders, natural order); [] when
    ``folder`` is itself a frame folder or holds no input."""
    from ..io.frame_folder import natural_key

    if _has_frames(folder):
        return []
    out = []
    for name in sorted(os.listdir(folder), key=natural_key):
        path = os.path.join(folder, name)
        if name.startswith("."):
            continue
        if os.path.isfile(path) and _is_video(path):
            out.append(path)
        elif os.path.isdir(path) and _has_frames(path):
            out.append(path)
        elif os.path.isdir(path):
            videos = [os.path.join(path, n) for n in os.listdir(path) if _is_video(os.path.join(path, n))]
            if len(videos) == 1:  # <seq>/clip.mp4 (beside e.g. its ground-truth masks/)
                out.append(videos[0])
    return out


def _is_video(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith(VIDEO_SUFFIXES) and not os.path.basename(path).startswith(".")


def read_list(list_file: str) -> list[str]:
    try:
        lines = Path(list_file).read_text().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the list {list_file}: {exc.strerror or exc}") from None
    base = os.path.dirname(os.path.abspath(list_file))
    paths = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not paths:
        raise InputError(f"the list {list_file} names no input")
    return [p if os.path.isabs(p) else os.path.join(base, p) for p in paths]


def is_batch(inputs: list[str], list_file: str | None) -> bool:
    """Several inputs, a list, or one folder of inputs; one video or frame folder is a single run."""
    if list_file or len(inputs) != 1:
        return True
    return os.path.isdir(inputs[0]) and bool(folder_inputs(inputs[0]))


def expand(inputs: list[str], list_file: str | None = None) -> list[str]:
    """Every input of a batch, folders of inputs opened, duplicates (the same file) dropped."""
    given = list(inputs) + (read_list(list_file) if list_file else [])
    out, seen = [], set()
    for path in given:
        expanded = folder_inputs(path) if os.path.isdir(path) else []
        for item in expanded or [path]:
            key = os.path.realpath(item)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def _stem(path: str) -> str:
    p = Path(path)
    return (p.name if p.is_dir() else p.stem) or p.resolve().name or "input"


def result_names(inputs: list[str]) -> list[str]:
    """A folder name per input, unique: its own name, else (where names collide) its parent folder's,
    else more parent folders joined by ``-``."""
    parts = [Path(os.path.abspath(p)).parts[:-1] for p in inputs]
    names = [_stem(p) for p in inputs]
    depth = [0] * len(inputs)
    while True:
        counts = Counter(names)
        clashing = [i for i, n in enumerate(names) if counts[n] > 1]
        if not clashing:
            return names
        grew = False
        for i in clashing:
            if depth[i] < len(parts[i]) - 1:  # never the filesystem root
                depth[i] += 1
                grew = True
                names[i] = "-".join(parts[i][len(parts[i]) - depth[i]:])
        if not grew:  # the same names all the way up (cannot happen for distinct real paths): number them
            for n, i in enumerate(clashing[1:], 2):
                names[i] = f"{names[i]}-{n}"
