"""The output folder: which folders a run may write into, one run per folder at a time, and with
``overwrite`` the removal of only what a previous run of ours wrote (never a user's other files).

Rules (every refusal is an :class:`~motionseg_trt.errors.OutputError`, exit code 4, before anything is
created):

* OUT must be a folder or not exist yet: not a file, not below a file, not a dangling or looping
  symbolic link (a link to a folder is followed: the user chose it);
* a non-empty OUT needs ``overwrite``; with it, OUT must not be ``/`` or the home folder, must not
  have a symbolic link or a file as ``masks``, and when it holds files with our names (``masks/``,
  ``run.json`` ...) it must carry our marker (:data:`MARKER`, written before a run's first result; a
  ``run.json`` of ours counts too): a dataset's ``<seq>/masks/`` is never ours to delete;
* one run per OUT: an ``flock`` on :data:`~.lock.LOCK_NAME` inside it (:mod:`.lock`).

The previous results are removed only when the new run writes its first result, so a run that fails
before that (a missing model, an interrupt during start-up) leaves OUT as it found it: the lock file,
the folders it created and its marker are removed again. Removal never follows a symbolic link.
"""
from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import stat
from typing import Iterator, Optional

from ..errors import FileSystemError, OutputError, OutputExistsError, os_error_message
from .atomic import TMP_MARK, write_text
from .lock import LOCK_NAME, FolderLock

RUN_JSON = "run.json"
MARKER = ".motionseg-trt"
MARKER_FORMAT = "motionseg-trt output folder"
_BOOKKEEPING = (LOCK_NAME, MARKER)  # files of our own that do not make a folder "not empty"


def our_files() -> list[str]:
    """Glob patterns (relative to the output folder) of everything a run writes, in the order
    ``--overwrite`` removes them: the files whose presence says "finished" first."""
    from .sinks import sink_classes

    classes = sorted(sink_classes(), key=lambda cls: not cls.marks_complete)
    return [RUN_JSON] + [pattern for cls in classes for pattern in cls.file_names]


def _top_names() -> list[str]:
    return list(dict.fromkeys(pattern.split("/")[0] for pattern in our_files()))


# ------------------------------------------------------------------------------------ the path itself
def check_output_path(out: str, what: str = "output folder") -> None:
    """Raise :class:`OutputError` unless ``out`` is a folder or can be created as one; creates nothing."""
    if not out:
        raise OutputError(f"no {what} given")
    try:
        st = os.lstat(out)
    except (FileNotFoundError, NotADirectoryError):
        _check_parents(out, what)
        return
    except OSError as exc:
        raise OutputError(f"{what} {out}: {os_error_message(exc)}") from None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(out)
        except FileNotFoundError:
            raise OutputError(f"{what} {out} is a symbolic link to {os.readlink(out)}, which does not exist") from None
        except OSError as exc:
            raise OutputError(f"{what} {out} is a symbolic link that cannot be followed "
                              f"({os_error_message(exc)})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputExistsError(f"{what} exists and is not a folder: {out}")


def _check_parents(out: str, what: str) -> None:
    parent = os.path.dirname(os.path.abspath(out))
    while True:
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            if os.path.islink(parent):
                raise OutputError(f"{what} {out}: {parent} is a symbolic link to "
                                  f"{os.readlink(parent)}, which does not exist") from None
            parent = os.path.dirname(parent)
            continue
        except OSError as exc:
            raise OutputError(f"{what} {out}: {os_error_message(exc)}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{what} {out} cannot be created: {parent} is a file, not a folder")
        return


# ------------------------------------------------------------------------------------ the contents
def is_marked(out: str) -> bool:
    """Whether a run of ours wrote into ``out``: our marker, or a run.json of ours (older versions)."""
    for name, test in ((MARKER, lambda d: d.get("format") == MARKER_FORMAT),
                       (RUN_JSON, lambda d: isinstance(d.get("versions"), dict)
                        and "motionseg_trt" in d["versions"] and "config" in d)):
        path = os.path.join(out, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size > (64 << 20):
                continue
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and test(data):
            return True
    return False


def _entries(out: str) -> list[str]:
    try:
        return [n for n in os.listdir(out) if n not in _BOOKKEEPING]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FileSystemError(f"cannot read the output folder {out}: {os_error_message(exc)}") from None


def _ours_present(out: str, names: list[str]) -> list[str]:
    tops = _top_names()
    return [n for n in names if n in tops or (n.startswith(".") and TMP_MARK in n)]


def check_output_dir(out: str, overwrite: bool) -> None:
    """Raise :class:`OutputError` if a run may not write into ``out``; creates nothing."""
    check_output_path(out)
    names = _entries(out) if os.path.isdir(out) else []
    if not names:
        return
    if not overwrite:
        raise OutputExistsError(f"output folder is not empty: {out} (use --overwrite to replace its results)")
    real = os.path.realpath(out)
    for special, word in (("/", "the root folder"), (os.path.realpath(os.path.expanduser("~")), "your home folder")):
        if real == special:
            raise OutputError(f"refusing to --overwrite {out}: it is {word}; give the results a folder of their own")
    for name in _top_names():
        path = os.path.join(out, name)
        with contextlib.suppress(FileNotFoundError):
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) and name in _folders_of_ours():
                raise OutputError(f"{path} is a symbolic link: --overwrite never deletes through links "
                                  "(remove it yourself or choose another --out)")
            if stat.S_ISDIR(mode) != (name in _folders_of_ours()) and not stat.S_ISLNK(mode):
                kind = "a folder" if stat.S_ISDIR(mode) else "not a folder"
                raise OutputError(f"{path} is {kind}: not a result of motionseg-trt (remove it yourself "
                                  "or choose another --out)")
    ours = _ours_present(out, names)
    if ours and not is_marked(out):
        raise OutputError(f"refusing to --overwrite {out}: it holds {', '.join(sorted(ours))} that no motionseg-trt "
                          f"run wrote (no {MARKER} marker or run.json of ours); --overwrite removes only our "
                          "own results: remove them yourself or choose another --out")


def _folders_of_ours() -> set[str]:
    return {pattern.split("/")[0] for pattern in our_files() if "/" in pattern}


# ------------------------------------------------------------------------------------ clearing
def clear_previous_results(out: str) -> None:
    """Remove the files of a previous run (:func:`our_files`) and our temporaries; never follows a
    symbolic link (a link with one of our names is removed as a link, its target is untouched)."""
    groups: dict[str, list[str]] = {}
    for pattern in our_files():
        folder, _, name = pattern.rpartition("/")
        groups.setdefault(folder, []).append(name)
    for folder in sorted(groups, key=len):  # the top level first: run.json and objects.json go first
        _remove_matching(out, folder, groups[folder] + [f".*{TMP_MARK}*"])


def _remove_matching(out: str, folder: str, patterns: list[str]) -> None:
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(os.path.join(out, folder) if folder else out, flags)
    except FileNotFoundError:
        return
    except OSError as exc:
        if folder:  # a symbolic link (ELOOP) or a file where our folder should be: not ours, left alone
            return
        raise FileSystemError(f"cannot clear {out}: {os_error_message(exc)}") from None
    try:
        names = os.listdir(fd)
        for pattern in patterns:  # in order: the files that say "finished" before the others
            for name in names:
                if not fnmatch.fnmatchcase(name, pattern):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode):
                        continue
                    os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------ a run's hold
class OutputFolder:
    """A run's claim on its output folder: checked, created and locked by :meth:`claim`; the previous
    results cleared and the marker written by :meth:`begin` (just before the first result);
    :meth:`release` unlocks and, when no result was written, removes what the claim created."""

    def __init__(self, out: str, overwrite: bool = False):
        self.out = out
        self.overwrite = overwrite
        self._lock = FolderLock(out)
        self._created: list[str] = []  # folders made by the claim, outermost first
        self._had_marker = False
        self._had_folders: set[str] = set()
        self._begun = False

    def claim(self) -> "OutputFolder":
        check_output_path(self.out)
        try:
            self._makedirs()
            self._lock.acquire()
        except OSError as exc:
            self.release()
            if exc.filename and os.path.abspath(os.fsdecode(exc.filename)) == os.path.abspath(self.out):
                exc.filename = None  # said once is enough
            raise FileSystemError(f"cannot write to the output folder {self.out}: {os_error_message(exc)}") from None
        except BaseException:
            self.release()
            raise
        try:
            self._had_marker = os.path.lexists(os.path.join(self.out, MARKER))
            self._had_folders = {n for n in _folders_of_ours() if os.path.lexists(os.path.join(self.out, n))}
            check_output_dir(self.out, self.overwrite)  # again, now that no other run can change it
        except BaseException:
            self.release()
            raise
        return self

    def _makedirs(self) -> None:
        path = os.path.abspath(self.out)
        missing = []
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except FileExistsError:
                continue  # made by someone else meanwhile: not ours to remove
            self._created.append(folder)

    def begin(self) -> None:
        """Before the first result: mark the folder as ours, then clear the previous run's results."""
        if self._begun:
            return
        self._begun = True
        write_text(os.path.join(self.out, MARKER),
                   json.dumps({"format": MARKER_FORMAT, "note": "written by motionseg-trt run: this folder's "
                               "masks/, overlay.mp4, objects.json and run.json are its results, which "
                               "--overwrite may replace"}) + "\n")
        if self.overwrite:
            clear_previous_results(self.out)

    def release(self) -> None:
        """Unlock; what a failed start created and left empty is removed again (state on disk decides:
        a folder holding results keeps them and the marker)."""
        if self._lock.held:  # never touch what another run holds
            with contextlib.suppress(OSError, FileSystemError):
                self._undo_empty_start()
            self._lock.release()
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only when empty
        self._created = []

    def _undo_empty_start(self) -> None:
        for name in _folders_of_ours() - self._had_folders:
            path = os.path.join(self.out, name)
            if os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path):
                os.rmdir(path)
        marker = os.path.join(self.out, MARKER)
        if not self._had_marker and os.path.lexists(marker) and not _ours_present(self.out, _entries(self.out)):
            os.remove(marker)


@contextlib.contextmanager
def claim_output_dir(out: str, overwrite: bool = False) -> Iterator[OutputFolder]:
    folder = OutputFolder(out, overwrite).claim()
    try:
        yield folder
    finally:
        folder.release()


def prepare_output_dir(out: str, overwrite: bool) -> Optional[OutputFolder]:
    """Check ``out``, create it, mark it as ours and clear the previous run's results (without a lock:
    for writing outside a run, e.g. tests and tools)."""
    check_output_dir(out, overwrite)
    os.makedirs(out, exist_ok=True)
    folder = OutputFolder(out, overwrite)
    folder.begin()
    return folder
