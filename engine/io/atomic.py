"""Atomic file writes: write to a temporary name in the destination's folder, then ``os.replace``.
A crash or Ctrl-C leaves either the previous complete file or a ``.tmp-`` file that is obviously
unfinished, never a half-written file under the final name. Temporary names hold the process id and a
random part, so that two writers (processes or threads) never share one."""
from __future__ import annotations

import contextlib
import os
import secrets
from typing import Iterator

TMP_MARK = ".tmp-"


def temp_path_for(path: str, suffix: str = "") -> str:
    """A hidden name beside ``path``, unique to this call: ``.NAME.tmp-PID-RANDOM[SUFFIX]``."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path to write to; on success it replaces ``path``, on error it is removed."""
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def remove_temp_files(folder: str) -> None:
    """Remove leftovers of interrupted atomic writes in ``folder``."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(".") and TMP_MARK in name:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError):
                if not os.path.isdir(path) or os.path.islink(path):
                    os.remove(path)
