"""Resumable, checksummed HTTP(S) downloads for the weight files (standard library only).

A download goes to ``<dest>.part``; an interrupted one resumes from where it stopped with an HTTP
Range request (a server that ignores Range sends the whole file again and the part is restarted).
The finished file's sha256 is checked against the expected one, or, when none is known, against the
one recorded next to the file at its first download (``<dest>.sha256``), before it is moved into
place. Network failures become one-line :class:`~motionseg_trt.errors.UnavailableError`.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional

from .errors import ModelFileError, UnavailableError

CHUNK = 1 << 20
USER_AGENT = "motionseg-trt-download"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def recorded_sha256(dest: Path) -> Optional[str]:
    side = Path(str(dest) + ".sha256")
    try:
        text = side.read_text(errors="replace").split()
    except (FileNotFoundError, IsADirectoryError):
        return None
    except OSError as exc:
        raise ModelFileError(f"cannot read the recorded checksum {side}: {exc.strerror or exc}") from None
    return text[0] if text else None


def verify(dest: Path, expected: Optional[str]) -> str:
    """sha256 of ``dest``; raises ModelFileError when it differs from ``expected`` or the record."""
    digest = sha256_of(dest)
    want = expected or recorded_sha256(dest)
    if want and digest != want.lower():
        raise ModelFileError(f"{dest}: sha256 {digest} does not match the expected {want}")
    return digest


VERIFIED_SUFFIX = ".verified.json"


def _stamp(st: os.stat_result) -> dict:
    # size and times: a rewrite changes mtime and ctime (ctime even when mtime is put back), a copy or a
    # move changes the inode; any of them means "hash it again"
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino}


def verify_on_use(path, expected: Optional[str] = None, record: Optional[Path] = None) -> bool:
    """Check ``path`` against its expected sha256 (given, or recorded by the download beside it) before
    a loader reads it; raises ModelFileError on a mismatch. The result is remembered beside the file
    (``<file>.verified.json``, keyed by size, times and inode), so the hash (1.6 s per GiB on the 2-core
    development machine; 0.3 ms to read the remembered result) is paid once per change of the file;
    ``record`` puts that memory elsewhere (a file in a package's folder, which is not ours to write
    in). Returns whether the file was hashed now."""
    path = Path(path)
    if path.is_dir():
        return False
    want = (expected or recorded_sha256(path) or "").lower()
    if not want:
        return False  # nothing recorded to check against (an explicit file of the user's)
    st = path.stat()
    stamp_path = Path(record) if record is not None else Path(str(path) + VERIFIED_SUFFIX)
    stamp = dict(_stamp(st), sha256=want)
    try:
        if json.loads(stamp_path.read_text()) == stamp:
            return False
    except (OSError, ValueError):
        pass
    digest = sha256_of(path)
    if digest != want:
        raise ModelFileError(f"{path}: sha256 {digest} does not match the recorded {want} (the file changed "
                             "or is corrupt); download it again (`motionseg-trt download`) or pass another file")
    try:
        from .io.atomic import write_text

        stamp_path.parent.mkdir(parents=True, exist_ok=True)
        write_text(str(stamp_path), json.dumps(stamp) + "\n")
    except OSError:
        pass  # a read-only weights folder: checked again next time
    return True


def _open(url: str, start: int, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start:
        req.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - URLs come from our registry / the user


def fetch(url: str, dest: str, sha256: Optional[str] = None, *, timeout: float = 30.0,
          progress: Optional[Callable[[int, Optional[int]], None]] = None) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); returns ``dest``.

    ``progress(done_bytes, total_bytes_or_None)`` is called as data arrives.
    """
    dest = Path(dest)
    if dest.exists():
        verify(dest, sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = Path(str(dest) + ".part")
    start = part.stat().st_size if part.exists() else 0
    try:
        try:
            resp = _open(url, start, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and start:  # nothing left to send: the part may already be complete
                resp = None
            else:
                raise
        if resp is not None:
            with resp:
                status = getattr(resp, "status", 200)
                if start and status != 206:
                    start = 0  # the server ignored Range: take the whole file again
                length = resp.headers.get("Content-Length")
                total = start + int(length) if length is not None else None
                with open(part, "ab" if start else "wb") as f:
                    done = start
                    if progress:
                        progress(done, total)
                    while True:
                        block = resp.read(CHUNK)
                        if not block:
                            break
                        f.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
                if total is not None and done < total:
                    raise UnavailableError(f"download of {url} stopped at {done} of {total} bytes; "
                                           "run the command again to resume")
    except urllib.error.HTTPError as exc:
        raise UnavailableError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        reason = getattr(exc, "reason", exc)
        raise UnavailableError(f"cannot reach {url} ({reason}); are you offline? "
                               "Download the file elsewhere and pass its path instead") from None
    digest = sha256_of(part)
    want = sha256 or recorded_sha256(dest)
    if want and digest != want.lower():
        part.unlink()  # a wrong file is not resumable: start from scratch next time
        raise ModelFileError(f"{url}: sha256 {digest} does not match the expected {want}; the download "
                             "was removed")
    os.replace(part, dest)
    if not sha256:
        # no published checksum: record this one so later uses are checked against it
        Path(str(dest) + ".sha256").write_text(f"{digest}  {dest.name}\n")
    return dest
