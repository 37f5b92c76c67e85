"""User-facing errors: the CLI prints them as one line (no traceback) and exits with ``exit_code``.

Exit codes (documented in the README and docs/readme/engine.md):
  0  success
  1  unexpected internal error (a traceback is printed: that is a bug)
  2  bad command line (argparse, an option's value, a model-set combination that cannot work)
  3  bad input: missing file, not a video, no video stream, zero frames, frames too small, corrupt stream
  4  the output folder cannot be used: not empty (use --overwrite), a file, below a file, a dangling or
     looping symbolic link, not written by motionseg-trt (--overwrite refused), the root or home
     folder, or another run is writing to it
  5  missing or mismatching model file / checkpoint / engine
  6  a runtime or dependency is not available on this machine (e.g. TensorRT, network)
  7  the machine refused: permission denied, read-only file system, disk full, I/O error, out of
     memory ...
  130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM, 129 by SIGHUP: files already completed are
      kept, nothing half-written is left (:mod:`motionseg_trt.interrupts`)
"""
from __future__ import annotations

import errno
import os


class MotionSegError(Exception):
    exit_code = 1


class OptionError(MotionSegError):
    exit_code = 2


class InputError(MotionSegError):
    exit_code = 3


class OutputError(MotionSegError):
    """The output folder (or another folder a command writes into) cannot be used."""

    exit_code = 4


class OutputExistsError(OutputError):
    pass


class ModelFileError(MotionSegError):
    exit_code = 5


class UnavailableError(MotionSegError):
    exit_code = 6


class FileSystemError(MotionSegError):
    exit_code = 7


_REASONS = {
    errno.ENOSPC: "disk full (no space left on the device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.ENAMETOOLONG: "file name too long",
    errno.EISDIR: "is a folder",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
}


def os_error_message(exc: OSError) -> str:
    """An ``OSError`` as one line: what failed, on which path, and why."""
    reason = _REASONS.get(exc.errno) or exc.strerror or str(exc) or type(exc).__name__
    paths = [p for p in (exc.filename, getattr(exc, "filename2", None)) if p is not None]
    where = " -> ".join(os.fsdecode(p) if isinstance(p, (bytes, str)) else str(p) for p in paths)
    return f"{where}: {reason}" if where else reason


def as_file_system_error(exc: OSError) -> FileSystemError:
    return FileSystemError(os_error_message(exc))
