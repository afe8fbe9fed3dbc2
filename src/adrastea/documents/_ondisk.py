"""The ``.ipynb`` behind a live document, and what the document last knew of it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from adrastea.documents._ipynb import LazyTexts, read_notebook, write_notebook
from adrastea.documents.types import FileStamp

__all__ = ["DiskChange", "NotebookFile"]


@dataclass(frozen=True)
class DiskChange:
    """The file's content is no longer what we last read or wrote; ``stamp`` is None if
    it was deleted."""

    stamp: FileStamp | None


class NotebookFile:
    """One notebook file and the stamp of the content we last read or wrote there.

    Blocking work (reading, hashing, writing) runs in worker threads.
    """

    def __init__(self, path: Path, stamp: FileStamp) -> None:
        self.path = path
        self.stamp = stamp

    async def read(self) -> tuple[dict[str, Any], FileStamp]:
        """Parse the file; the caller adopts the returned stamp once it uses the content.

        Raises:
            FileNotFound: the file is gone.
            InvalidNotebook: it does not validate.
        """
        return await anyio.to_thread.run_sync(read_notebook, self.path)

    async def write(self, nb: dict[str, Any], lazy: LazyTexts) -> FileStamp:
        """Replace the file atomically with ``nb`` (already validated); adopt its stamp."""
        self.stamp = await anyio.to_thread.run_sync(write_notebook, self.path, nb, lazy)
        return self.stamp

    async def change(self) -> DiskChange | None:
        """None if the file still holds what we know, else how it changed.

        Size and mtime are compared first; only if they differ is the content
        hashed, so a ``touch`` (same bytes) just refreshes the known stamp.
        """
        try:
            st = await anyio.to_thread.run_sync(os.stat, self.path)
            if self.stamp.same_stat(st):
                return None
            disk = await anyio.to_thread.run_sync(FileStamp.of, self.path)
        except FileNotFoundError:
            return DiskChange(None)
        if disk.same_content(self.stamp):
            self.stamp = disk
            return None
        return DiskChange(disk)
