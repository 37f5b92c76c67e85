"""The DAVIS palette (the PASCAL VOC colour map that DAVIS-2017 annotations use): index 0 black,
1 (128, 0, 0), 2 (0, 128, 0), 3 (128, 128, 0), ... built from the bits of the index."""
from __future__ import annotations

import numpy as np


def davis_palette(n: int = 256) -> np.ndarray:
    """``[n, 3]`` uint8 RGB colours."""
    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


DAVIS_PALETTE = davis_palette()
