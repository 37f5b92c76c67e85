"""COCO run-length encoding (the ``{"size": [h, w], "counts": str}`` of pycocotools), in NumPy.

Runs are taken over the mask in column-major (Fortran) order and start with a run of zeros (possibly
empty). The compressed string is COCO's: each count (from the fourth on, as the difference to the
count two places back) is written as little-endian 5-bit groups, 0x20 = "more groups follow", sign
taken from bit 0x10 of the last group, each group offset by 48 into printable ASCII. Hand-written so
that the package needs no compiled pycocotools; tests check it against strings made by pycocotools.
"""
from __future__ import annotations

import numpy as np


def mask_to_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO run lengths of a 2-D boolean mask."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts.insert(0, 0)  # COCO always starts with the zeros
    return counts


def counts_to_mask(counts: list[int], height: int, width: int) -> np.ndarray:
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    if flat.size != height * width:
        raise ValueError(f"RLE covers {flat.size} pixels, expected {height * width}")
    return flat.reshape((height, width), order="F")


def counts_to_string(counts: list[int]) -> str:
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative deltas keep their sign
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def string_to_counts(s: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a 2-D mask: ``{"size": [h, w], "counts": str}``."""
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": counts_to_string(mask_to_counts(mask))}


def decode(rle: dict) -> np.ndarray:
    """Inverse of :func:`encode`; also accepts uncompressed ``counts`` lists."""
    h, w = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, (bytes, bytearray)):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = string_to_counts(counts)
    return counts_to_mask(counts, h, w)


def area(rle: dict) -> int:
    counts = rle["counts"]
    if isinstance(counts, (str, bytes, bytearray)):
        counts = string_to_counts(counts.decode("ascii") if not isinstance(counts, str) else counts)
    return int(sum(counts[1::2]))
