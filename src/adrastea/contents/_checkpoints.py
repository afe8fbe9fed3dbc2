"""File checkpoints, kept in the state folder rather than beside the user's files.

Like Jupyter's ``FileCheckpoints`` there is one checkpoint per file, with the
id ``"checkpoint"``.  The store mirrors the served tree: the checkpoint of
``a/b.ipynb`` is ``STATE/checkpoints/a/b.ipynb``, so renaming or deleting a
folder moves or drops its files' checkpoints in one operation.  A stale entry
in the way (a file's old checkpoint where a folder's now go, or the reverse)
is discarded.  All methods are blocking; callers run them in a worker thread.
"""

from __future__ import annotations

import shutil
from contextlib import suppress
from pathlib import Path

from adrastea.contents._atomic import copy_atomic
from adrastea.contents._models import CheckpointModel, isoformat
from adrastea.errors import CheckpointNotFound

__all__ = ["CHECKPOINT_ID", "Checkpoints"]

CHECKPOINT_ID = "checkpoint"


class Checkpoints:
    """The checkpoint store under ``base`` (``STATE/checkpoints``)."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def list(self, api: str) -> list[CheckpointModel]:
        """The checkpoints of ``api``: none, or the one."""
        stored = self._location(api)
        try:
            info = stored.stat()
        except (FileNotFoundError, NotADirectoryError):
            return []
        if not stored.is_file():
            return []
        return [{"id": CHECKPOINT_ID, "last_modified": isoformat(info.st_mtime)}]

    def create(self, api: str, source: Path) -> CheckpointModel:
        """Take (or retake) the checkpoint of ``api`` from the file ``source``."""
        stored = self._location(api)
        self._make_room(stored)
        copy_atomic(source, stored)
        return self.list(api)[0]

    def restore(self, api: str, checkpoint_id: str, target: Path) -> None:
        """Write checkpoint ``checkpoint_id`` of ``api`` back over ``target``, atomically."""
        copy_atomic(self._existing(api, checkpoint_id), target)

    def delete(self, api: str, checkpoint_id: str) -> None:
        self._existing(api, checkpoint_id).unlink()

    def rename_all(self, old_api: str, new_api: str) -> None:
        """Move the checkpoints of ``old_api`` (a file, or a folder's files) to ``new_api``."""
        old, new = self._location(old_api), self._location(new_api)
        if not old.exists():
            return
        self._make_room(new)
        _remove(new)
        old.replace(new)

    def delete_all(self, api: str) -> None:
        """Drop the checkpoints of ``api`` (a file, or everything under a folder)."""
        _remove(self._location(api))

    def _location(self, api: str) -> Path:
        # ``api`` is canonical (vetted by PathGuard), so joining cannot escape ``base``.
        return self.base.joinpath(*api.split("/"))

    def _existing(self, api: str, checkpoint_id: str) -> Path:
        stored = self._location(api)
        if checkpoint_id != CHECKPOINT_ID or not stored.is_file():
            raise CheckpointNotFound(f"no checkpoint {checkpoint_id!r} for {api!r}")
        return stored

    def _make_room(self, stored: Path) -> None:
        """Create ``stored``'s parents and clear stale entries in the way."""
        for parent in reversed(stored.relative_to(self.base).parents):
            folder = self.base / parent
            if folder.exists() and not folder.is_dir():
                folder.unlink()
        stored.parent.mkdir(parents=True, exist_ok=True)
        if stored.is_dir():
            shutil.rmtree(stored)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()
