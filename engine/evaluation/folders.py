"""Which mask files are compared with which.

A *sequence folder* holds PNG masks, directly (``<seq>/*.png``: a plain folder, DAVIS's
``Annotations/480p/<seq>/`` layout) or in ``masks/`` (``<seq>/masks/*.png``: a ``motionseg-trt run``
output folder, the ``davis16-dev`` layout). A *collection* is a folder of sequence folders. RESULTS and
GT may each be either; sequences are matched by name (a folder called ``masks`` is named after its
parent). Policy:

* every result sequence needs ground truth (an error otherwise: a misspelt name must not go unscored);
  ground-truth sequences without results are not scored, and a warning names them;
* frames are matched in natural sorted order, so the counts must be equal; the one exception is a
  sparse ground truth (fewer masks, e.g. every 5th frame annotated), matched by the frame number at
  the end of each file name when every one of them has a result with the same number;
* a result mask and its ground truth must have the same size.

PNGs of any mode are read: indexed (DAVIS palette), grey 0/255, 1-bit, 16-bit, RGB(A); a pixel is
foreground when its value (its colour) is not 0 (black).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.frame_folder import natural_key

MASK_SUFFIX = ".png"


@dataclass(frozen=True)
class SequenceFiles:
    """One sequence to score: result and ground-truth masks, matched frame by frame."""
    name: str
    pairs: tuple[tuple[Path, Path], ...]


def mask_files(folder: Path) -> list[Path]:
    names = [p for p in folder.iterdir()
             if p.suffix.lower() == MASK_SUFFIX and p.is_file() and not p.name.startswith(".")]
    return sorted(names, key=lambda p: natural_key(p.name))


def masks_dir(folder: Path) -> Path | None:
    """Where a sequence folder keeps its masks: itself, or its ``masks/``; None if neither has any."""
    for candidate in (folder, folder / "masks"):
        if candidate.is_dir() and mask_files(candidate):
            return candidate
    return None


def sequence_name(folder: Path) -> str:
    folder = folder.resolve()
    return folder.parent.name if folder.name == "masks" else folder.name


def find_sequences(root: Path, role: str) -> tuple[bool, dict[str, Path]]:
    """``(is_one_sequence, {name: masks folder})`` for RESULTS or GT (``role`` names it in errors)."""
    if not root.is_dir():
        raise InputError(f"{role} folder not found: {root}")
    own = masks_dir(root)
    if own is not None:
        return True, {sequence_name(root): own}
    found = {}
    for sub in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
        folder = masks_dir(sub)
        if folder is not None:
            found[sub.name] = folder
    if not found:
        raise InputError(f"no PNG masks in {role} folder {root}, nor in its masks/ or its sub-folders")
    return False, found


def match_sequences(results: Path, gt: Path) -> tuple[list[SequenceFiles], list[str]]:
    """The sequences to score (in GT's order) and warnings about ground truth left unscored."""
    res_single, res = find_sequences(results, "results")
    gt_single, truth = find_sequences(gt, "ground-truth")
    if gt_single:  # one ground-truth sequence: the one result sequence, or the one of the same name
        name = next(iter(truth))
        if not res_single and name not in res:
            raise InputError(f"no results for sequence {name} in {results} (it has: {_listing(res)})")
        res = {name: next(iter(res.values())) if res_single else res[name]}
    missing = [name for name in res if name not in truth]
    if missing:
        raise InputError(f"no ground truth in {gt} for result sequence(s) {', '.join(missing)}"
                         f" (ground truth has: {_listing(truth)})")
    unscored = [name for name in truth if name not in res]
    warnings = []
    if unscored and not gt_single:
        warnings.append(f"{len(unscored)} of {len(truth)} ground-truth sequences have no results and are "
                        f"not scored: {_listing(unscored)}")
    seqs = [SequenceFiles(name, match_frames(name, mask_files(res[name]), mask_files(truth[name])))
            for name in truth if name in res]
    return seqs, warnings


def _listing(names, limit: int = 8) -> str:
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def frame_number(path: Path) -> int | None:
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else None


def match_frames(name: str, results: list[Path], gt: list[Path]) -> tuple[tuple[Path, Path], ...]:
    """Pairs (result, ground truth): by sorted order when the counts agree, by frame number for a
    sparse ground truth; anything else is an :class:`InputError`."""
    if len(results) == len(gt):
        return tuple(zip(results, gt))
    if len(gt) < len(results):
        by_number = {frame_number(p): p for p in results}
        wanted = [frame_number(p) for p in gt]
        if None not in by_number and len(by_number) == len(results) and all(n in by_number for n in wanted):
            return tuple((by_number[n], p) for n, p in zip(wanted, gt))
    raise InputError(f"{name}: {len(results)} result masks for {len(gt)} ground-truth masks (frames are "
                     "matched in sorted order, or by frame number when every ground-truth frame has a result)")


def read_mask(path: Path) -> np.ndarray:
    """A PNG mask as a boolean foreground map (value or colour not 0)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            mode = img.mode
            values = np.asarray(img)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same to the user
        raise InputError(f"cannot read mask {path}: {exc}") from None
    if values.ndim == 3:
        values = values[..., :1] if mode in ("LA", "PA") else values[..., :3]
        return values.any(axis=-1)
    return values > 0


def read_pair(name: str, result: Path, gt: Path) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = read_mask(result), read_mask(gt)
    if pred.shape != truth.shape:
        raise InputError(f"{name}: result {result.name} is {pred.shape[1]}x{pred.shape[0]} but ground truth "
                         f"{gt.name} is {truth.shape[1]}x{truth.shape[0]}")
    return pred, truth
