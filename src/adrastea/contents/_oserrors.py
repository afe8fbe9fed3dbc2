"""Translate ``OSError`` from file operations into Adrastea's domain errors."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from adrastea.errors import (
    AdrasteaError,
    FileExists,
    FileNotFound,
    InsufficientStorage,
    InvalidPath,
    PermissionDenied,
    WrongType,
)

__all__ = ["os_errors"]


@contextmanager
def os_errors(api: str) -> Iterator[None]:
    """Re-raise an ``OSError`` about ``api`` as the matching domain error.

    Errors without a clear user meaning (EIO, ...) propagate unchanged and end
    as a logged 500.
    """
    try:
        yield
    except OSError as exc:
        mapped = _translate(exc, api)
        if mapped is None:
            raise
        raise mapped from exc


def _translate(exc: OSError, api: str) -> AdrasteaError | None:
    shown = repr(api)
    log = f"{exc.strerror} ({exc.filename})"
    match exc.errno:
        case errno.ENOENT | errno.ENOTDIR | errno.ELOOP:
            return FileNotFound(f"no such file or directory: {shown}", log_detail=log)
        case errno.EACCES | errno.EPERM:
            return PermissionDenied(f"permission denied: {shown}", log_detail=log)
        case errno.EROFS:
            return PermissionDenied(f"read-only file system: {shown}", log_detail=log)
        case errno.ENOSPC:
            return InsufficientStorage(
                f"no space left on the device while writing {shown}; nothing was changed",
                log_detail=log,
            )
        case errno.EDQUOT:
            return InsufficientStorage(
                f"disk quota exceeded while writing {shown}; nothing was changed",
                log_detail=log,
            )
        case errno.EEXIST | errno.ENOTEMPTY:
            return FileExists(f"already exists: {shown}", log_detail=log)
        case errno.EISDIR:
            return WrongType(f"{shown} is a directory", log_detail=log)
        case errno.ENAMETOOLONG | errno.EINVAL | errno.EILSEQ:
            return InvalidPath(f"the file system refuses this name: {shown}", log_detail=log)
    return None
