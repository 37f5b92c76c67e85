"""One run per output folder: an exclusive ``flock`` on a lock file inside it.

The kernel drops the lock when the process ends, however it ends (a crash or ``kill -9`` included),
so a stale lock file never blocks a later run. ``flock`` locks belong to the open file, not to the
process: two runs in one process (threads of the Python API) exclude each other too.
"""
from __future__ import annotations

import errno
import os
from typing import Optional

from ..errors import OutputError

LOCK_NAME = ".motionseg-trt.lock"
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class FolderLock:
    def __init__(self, folder: str):
        self.path = os.path.join(folder, LOCK_NAME)
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`OutputError` naming the run that holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            self._fd = -1
            return
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputError(f"another motionseg-trt run{holder} is writing to {os.path.dirname(self.path)}; "
                                  "wait for it to finish or choose another --out") from None
            except OSError as exc:
                if exc.errno not in _NO_LOCKS:
                    os.close(fd)
                    raise
                # a file system without locks (some network or FUSE mounts): run unlocked, as before
                self._fd = fd
                return
            except BaseException:
                os.close(fd)
                raise
            # the holder before us may have removed the file between our open and our lock: then we
            # locked a file nobody else can see, and must lock the one at the path instead
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return
            os.close(fd)
        raise OutputError(f"cannot lock {self.path}: it keeps changing (another program is removing it)")

    def release(self) -> None:
        """Remove the lock file, then unlock (in this order, so nobody locks a file that is going)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fd < 0:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""
