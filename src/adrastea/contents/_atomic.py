"""Atomic file replacement: readers see the old file or the new one, never half.

A write goes to a temporary file in the target's own directory (so the final
rename stays on one file system), is flushed with ``fsync``, then renamed over
the target, and the directory is ``fsync``-ed so the rename survives a crash.
An existing file keeps its permission bits; a new file gets the usual
``0o666`` minus the umask.  On any failure the temporary file is removed and
the target is untouched.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

__all__ = ["copy_atomic", "fsync_dir", "move_into", "temp_name", "write_atomic"]

_COPY_BUFFER = 1 << 20
# link(2) errors meaning "this file system has no hard links", not "target exists".
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def temp_name() -> str:
    """A fresh, hidden name for a temporary sibling of the file being written."""
    # Independent of the target's name, so a 255-byte name cannot make it too long.
    return f".~adrastea-{secrets.token_hex(8)}.tmp"


def write_atomic(target: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Replace (or create) ``target`` with ``data`` atomically.

    With ``overwrite=False`` an existing ``target`` is never replaced, even by
    a concurrent writer: ``FileExistsError`` is raised instead.
    """
    _write(target, lambda out: out.write(data), overwrite=overwrite)


def copy_atomic(source: Path, target: Path, *, overwrite: bool = True) -> None:
    """Copy the bytes of ``source`` to ``target`` atomically (see ``write_atomic``)."""

    def fill(out: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, out, _COPY_BUFFER)

    _write(target, fill, overwrite=overwrite)


def move_into(source: Path, target: Path) -> None:
    """Rename the finished, fsync-ed file ``source`` over ``target`` atomically.

    ``source`` takes the mode of an existing ``target``.  Across file systems
    this falls back to an atomic copy, then removes ``source``.
    """
    mode = _existing_mode(target)
    if mode is not None:
        source.chmod(mode)
    try:
        source.replace(target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        copy_atomic(source, target)
        source.unlink()
        return
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries to disk; a no-op where the file system cannot."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network file systems refuse fsync on directories
    finally:
        os.close(fd)


def _write(target: Path, fill: Callable[[BinaryIO], object], *, overwrite: bool) -> None:
    directory = target.parent
    mode = _existing_mode(target)
    temp = directory / temp_name()
    # os.open with 0o666 lets the kernel apply the umask, as for any new file.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        _commit(temp, target, overwrite=overwrite)
    finally:
        with suppress(FileNotFoundError):
            temp.unlink()
    fsync_dir(directory)


def _commit(temp: Path, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        temp.replace(target)
        return
    try:
        # link(2) fails if the target exists: a create that cannot clobber.
        os.link(temp, target)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if target.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(target)) from exc
        temp.replace(target)


def _existing_mode(target: Path) -> int | None:
    try:
        info = target.stat()
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None
