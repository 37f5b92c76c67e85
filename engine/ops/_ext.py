"""Finds the optional compiled extensions built from ``csrc/``."""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Optional

_cache: dict[str, Optional[ModuleType]] = {}


def load_extension(op: str) -> Optional[ModuleType]:
    """Return ``motionseg_trt._C_<op>`` or None when it was not built (or ``MOTIONSEG_NO_EXT=1``)."""
    if os.environ.get("MOTIONSEG_NO_EXT") == "1":
        return None
    if op not in _cache:
        try:
            _cache[op] = importlib.import_module(f"motionseg_trt._C_{op}")
        except ImportError:
            _cache[op] = None
    return _cache[op]
