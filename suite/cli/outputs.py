"""Output locations checked before any work, and OS errors as one line.

A long command (report, sweep, claims, check, export, compare --update) used to find out that it
could not write its output after minutes or hours of training: `vgsuite report --out` on a
read-only folder trained 440 runs first. Each command now calls `writable_dir` / `writable_file`
for every place it will write, before it trains or reads anything; an output that cannot be
written there (a folder where a file is wanted, a file where a folder is, a parent that cannot be
created, a read-only or permission-denied location) is bad input: one line naming the parameter
and the path, exit status 2. The check writes and removes a small probe file, so it sees what the
kernel will say (read-only mounts, ACLs, root on a read-only filesystem) rather than guessing from
permission bits; it may create the missing folders of an output location, nothing else.

An OS error that only shows during the work (a disk that fills up, an I/O error) cannot be
checked in advance: `os_error_line` turns it into the one line that `main` prints (exit 1).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from .registry import UsageError


def _probe_folder(folder: Path, param: str, path: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{param}: {str(path)!r} cannot be written: {str(folder)!r} is a file, not a folder") \
            from None
    except OSError as exc:
        raise UsageError(f"{param}: cannot create the folder {str(folder)!r} for {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".vgsuite-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{param}: cannot write in {str(folder)!r}: {exc.strerror or exc}") from None


def writable_file(path, param: str) -> Path:
    """`path` as a file this process can create or replace; else UsageError naming `param`."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{param}: {str(path)!r} is a folder; give a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{param}: {str(path)!r} is not writable")
    if path.exists() and not path.is_file():  # a device or pipe (/dev/stdout, /dev/full): written in place
        return path
    _probe_folder(path.parent if str(path.parent) else Path("."), param, path)
    return path


def writable_dir(path, param: str) -> Path:
    """`path` as a folder this process can write in (created if missing); else UsageError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{param}: {str(path)!r} is a file; give a folder")
    _probe_folder(path, param, path)
    return path


def os_error_line(exc: BaseException) -> str | None:
    """One line for an OS or SQLite error raised while working; None for other exceptions."""
    if isinstance(exc, OSError):
        where = f": {exc.filename!r}" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, sqlite3.Error):
        return f"results store: {exc}"
    if isinstance(exc, MemoryError):
        return "out of memory (a smaller run, or a larger VGSUITE_MAX_MEMORY_GB only with more memory)"
    return None


__all__ = ["os_error_line", "writable_dir", "writable_file"]
