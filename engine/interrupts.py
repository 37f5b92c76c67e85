"""SIGINT and SIGTERM (and SIGHUP, a closed terminal) stop a run cleanly: each raises
:class:`Interrupted` (a ``KeyboardInterrupt`` that remembers its signal) in the main thread, the run
leaves only complete files, and the command line exits with 128 + the signal's number (130 for
Ctrl-C, 143 for ``kill``, 129 for a hang-up).

Clean-up that must not be cut short (waiting for the writer thread before the video encoder is
closed, removing temporaries, renaming the finished files) runs inside :func:`deferred`: a signal that
arrives there is kept and raised when the block ends. Worker threads are waited for through
:func:`wait_for` (an event they set), never through ``Thread.join()`` in the main thread: an
interrupted ``join()`` can leave a thread that still runs marked as stopped.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator, Optional

HANDLED = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when SIGINT or SIGTERM arrives."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def exit_code(exc: BaseException) -> int:
    """The shell's convention: 128 + the signal's number (a bare KeyboardInterrupt is SIGINT)."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


class _State:
    depth = 0  # nesting of deferred() blocks (main thread only: signal handlers run there)
    pending: Optional[int] = None
    last: Optional[int] = None  # the last signal received


def last_signal() -> Optional[int]:
    """The last SIGINT/SIGTERM received, for code that sees only its trace: a system call that
    failed with EINTR inside a library which swallowed the exception raised by the handler."""
    return _State.last


def _handler(signum, frame):
    _State.last = signum
    if _State.depth > 0:
        if _State.pending is None:
            _State.pending = signum
        return
    raise Interrupted(signum)


def _ours_to_take(signum: int, current) -> bool:
    # SIGINT: Python's default handler; SIGTERM: the default action (death with no clean-up). A
    # handler someone else installed, or an ignored signal (a background job), is left alone.
    if current is _handler:
        return True
    return current is (signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_as_interrupts(ignore_after: bool = False) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread. Afterwards the
    previous handlers are back, or with ``ignore_after`` (a program about to exit: its work is done,
    a late signal must not turn a finished run into a killed one) both signals are ignored."""
    if not _in_main_thread():
        yield
        return
    previous = {}
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if _ours_to_take(signum, current):
            previous[signum] = current
            signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if ignore_after else handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Signals that arrive inside are raised as :class:`Interrupted` when the block ends (unless an
    exception already leaves it). Also takes SIGINT from Python's default handler for the block, so it
    works for Python API callers too."""
    if not _in_main_thread():
        yield
        return
    taken = {}
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current is not _handler and signum == signal.SIGINT and current is signal.default_int_handler:
            taken[signum] = current
            signal.signal(signum, _handler)
    _State.depth += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _State.depth -= 1
        for signum, handler in taken.items():
            signal.signal(signum, handler)
        if _State.depth == 0:
            pending, _State.pending = _State.pending, None
            if pending is not None and not failed:
                raise Interrupted(pending)


def wait_for(event: threading.Event, poll: float = 0.05) -> None:
    """Wait until ``event`` is set; a signal may interrupt the wait (it raises) but never corrupts it."""
    while not event.wait(poll):
        pass
