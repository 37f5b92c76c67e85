"""Deterministic "formula" weights for BootsTAPIR-shaped state dicts (no weight file needed).

The BootsTAPIR golden fixture was made with these weights (its NOTES.md gives
the formula); parity runs and tests fill a model the same way from a key -> shape list. For a key ``k``
of shape ``s`` with ``n`` values, ``i = 0 .. n-1`` in float64:

    phase   = (crc32(k) mod 100000) / 100000 * 2 pi
    base[i] = sin(0.7548776662466927 * i + phase)
    w       = base * sqrt(3 / prod(s[1:]))  if len(s) >= 2
              1 + 0.1 * base                 elif k ends with "weight"
              0.05 * base                    otherwise

cast to float32, reshaped row-major.
"""
from __future__ import annotations

import math
import zlib
from typing import Iterable, Mapping, Sequence

import numpy as np

_STEP = 0.7548776662466927


def formula_tensor(key: str, shape: Sequence[int]) -> np.ndarray:
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    phase = (zlib.crc32(key.encode("utf-8")) & 0xFFFFFFFF) % 100000 / 100000 * 2 * math.pi
    base = np.sin(_STEP * np.arange(n, dtype=np.float64) + phase)
    if len(shape) >= 2:
        w = base * math.sqrt(3.0 / int(np.prod(shape[1:])))
    elif key.endswith("weight"):
        w = 1.0 + 0.1 * base
    else:
        w = 0.05 * base
    return w.astype(np.float32).reshape(shape)


def formula_state_dict(shapes: Mapping[str, Sequence[int]] | Iterable[tuple[str, Sequence[int]]]):
    """``{key: torch.Tensor}`` for every (key, shape), in the given order."""
    import torch

    items = shapes.items() if isinstance(shapes, Mapping) else shapes
    return {k: torch.from_numpy(formula_tensor(k, s)) for k, s in items}


def model_shapes(model) -> dict[str, list[int]]:
    """The key -> shape list of a model's state dict (what a fixture manifest stores)."""
    return {k: list(v.shape) for k, v in model.state_dict().items()}
