"""Resumable, checksummed HTTP(S) downloads for the weight files (standard library only).

A download goes to ``<dest>.part``; an interrupted one resumes from where it stopped with an HTTP
Range request (a server that ignores Range sends the whole file again and the part is restarted).
The finished file's sha256 is checked against the expected one, or, when none is known, against the
one recorded next to the file at its first download (``<dest>.sha256``), before it is moved into
place. Network failures become one-line :class:`~motionseg_trt.errors.UnavailableError`.
"""
from __future__ import annotations

import hashlib
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
    if side.exists():
        text = side.read_text().split()
        return text[0] if text else None
    return None


def verify(dest: Path, expected: Optional[str]) -> str:
    """sha256 of ``dest``; raises ModelFileError when it differs from ``expected`` or the record."""
    digest = sha256_of(dest)
    want = expected or recorded_sha256(dest)
    if want and digest != want.lower():
        raise ModelFileError(f"{dest}: sha256 {digest} does not match the expected {want}")
    return digest


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
