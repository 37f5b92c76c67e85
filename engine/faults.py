"""Fault injection for the tests: named points in the engine where a test can make something go wrong
deterministically, in a subprocess it starts (``tests/test_faults.py``).

``MOTIONSEG_FAULT=POINT[@N]:ACTION[,...]`` (``@N``: the N-th time the point is reached, default the
first) with ACTION one of

* ``SIGINT`` / ``SIGTERM`` (any signal name): the process sends itself the signal at the point;
* ``ENOSPC`` / ``EACCES`` / ``EROFS`` / ``EIO`` (any errno name): an ``OSError`` with that errno is
  raised there, as the file system would;
* ``sleep=S``: the point waits S seconds (to widen a race on purpose).

Points: ``before-first-frame`` (input open, stages built, nothing written), ``after-first-window``
(the first masks handed to the writer: the object filter holds the first window's frames back for
``obj_min_duration``), ``before-write`` (the writer thread, before each step's files), ``during-drain`` (the last window handed over, the writer still busy), ``during-finish``
(writing objects.json / run.json), ``after-lock`` (the output folder claimed, nothing else done).
Unset (always, outside the tests) a point costs one dictionary lookup.
"""
from __future__ import annotations

import errno
import os
import signal
import time

ENV = "MOTIONSEG_FAULT"
_plan: dict[str, tuple[int, str]] | None = None
_hits: dict[str, int] = {}


def _parse() -> dict[str, tuple[int, str]]:
    plan = {}
    for item in os.environ.get(ENV, "").split(","):
        point, sep, action = item.strip().partition(":")
        if sep:
            point, _, nth = point.strip().partition("@")
            plan[point] = (int(nth or 1), action.strip())
    return plan


def fault_point(name: str) -> None:
    """Do what ``$MOTIONSEG_FAULT`` asks for at ``name`` (nothing when it does not name it)."""
    global _plan
    if _plan is None:
        _plan = _parse()
    if name not in _plan:
        return
    _hits[name] = _hits.get(name, 0) + 1
    nth, action = _plan[name]
    if action.startswith("sleep="):  # every time from the N-th on: a slow disk stays slow
        if _hits[name] >= nth:
            time.sleep(float(action[len("sleep="):]))
        return
    if _hits[name] != nth:
        return
    if action.startswith("SIG"):
        os.kill(os.getpid(), getattr(signal, action))
        time.sleep(0.5)  # the handler runs at the next bytecode in the main thread; other threads wait here
    elif hasattr(errno, action):
        code = getattr(errno, action)
        raise OSError(code, os.strerror(code), f"<{name}>")
    else:
        raise ValueError(f"{ENV}: unknown action {action!r} at {name}")
