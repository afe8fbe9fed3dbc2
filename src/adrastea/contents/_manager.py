"""``ContentsManager``: the async face of the contents API, one worker thread per call.

Disk work never runs on the event loop: on a cluster the served folder is
often a network file system where a single ``stat`` can stall, and a stalled
loop would stall every kernel's WebSocket too.  Each call hands the whole
operation to one worker thread (one hop, not one per file), and is not
abandoned on cancellation, so a write that has begun always finishes.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from anyio import to_thread

from adrastea.config import ContentsSettings
from adrastea.contents._checkpoints import Checkpoints
from adrastea.contents._files import FileStore
from adrastea.contents._models import (
    CheckpointModel,
    ContentsModel,
    ContentsType,
    NewRequest,
    SaveRequest,
)
from adrastea.contents._paths import PathGuard
from adrastea.contents._reading import FileFormat
from adrastea.contents._uploads import Uploads
from adrastea.errors import FileNotFound

__all__ = ["ContentsManager"]


class ContentsManager:
    """Files under ``root`` as Jupyter's contents models, with checkpoints.

    Paths are API paths (``/``-separated, relative to ``root``, ``""`` for the
    root).  Checkpoints and upload parts live in ``state_dir``, which is never
    served.  Every method raises domain errors from ``adrastea.errors``:
    ``InvalidPath`` for malformed paths, ``FileNotFound`` for missing, hidden
    or out-of-root ones, ``FileExists``, ``WrongType``, ``BadEncoding``,
    ``InvalidNotebook``, ``InvalidUpload``, ``PermissionDenied`` and
    ``InsufficientStorage`` as their names say.

    Construct it once per server, when the state folder exists; construction
    discards the part files of uploads left unfinished by a previous run.
    """

    def __init__(self, root: Path, settings: ContentsSettings, state_dir: Path) -> None:
        self.root = root.expanduser().resolve()
        self.settings = settings
        self.state_dir = state_dir.expanduser().resolve()
        guard = PathGuard(self.root, self.state_dir, allow_hidden=settings.allow_hidden)
        self._guard = guard
        self._store = FileStore(
            guard,
            Checkpoints(self.state_dir / "checkpoints"),
            Uploads(self.state_dir / "uploads"),
        )

    def locate(self, path: str) -> tuple[str, Path]:
        """(canonical API path, real file path) of an existing notebook or file.

        Raises ``InvalidPath`` or ``FileNotFound`` exactly as the API does.
        """
        target = self._guard.resolve(path)
        if not target.real.is_file():
            raise FileNotFound(f"no such file: {target.api}")
        return target.api, target.real

    async def get(
        self,
        path: str,
        *,
        type: ContentsType | None = None,
        format: FileFormat | None = None,
        content: bool = True,
        require_hash: bool = False,
    ) -> ContentsModel:
        """The model of ``path``; a directory's content lists its visible entries."""
        call = partial(
            self._store.get,
            path,
            kind=type,
            fmt=format,
            content=content,
            require_hash=require_hash,
        )
        return await to_thread.run_sync(call)

    async def save(self, path: str, request: SaveRequest) -> tuple[ContentsModel, bool]:
        """Save a file, notebook or folder (or one upload chunk): (model, created)."""
        return await to_thread.run_sync(self._store.save, path, request)

    async def create(self, path: str, request: NewRequest) -> ContentsModel:
        """A new untitled entry in the folder ``path``, or a copy (``copy_from``)."""
        return await to_thread.run_sync(self._store.create, path, request)

    async def rename(self, path: str, new_path: str) -> ContentsModel:
        """Move ``path`` to ``new_path``, which must not exist."""
        return await to_thread.run_sync(self._store.rename, path, new_path)

    async def delete(self, path: str) -> None:
        """Delete a file or a folder with everything in it, for good."""
        await to_thread.run_sync(self._store.delete, path)

    async def list_checkpoints(self, path: str) -> list[CheckpointModel]:
        return await to_thread.run_sync(self._store.list_checkpoints, path)

    async def create_checkpoint(self, path: str) -> CheckpointModel:
        return await to_thread.run_sync(self._store.create_checkpoint, path)

    async def restore_checkpoint(self, path: str, checkpoint_id: str) -> None:
        await to_thread.run_sync(self._store.restore_checkpoint, path, checkpoint_id)

    async def delete_checkpoint(self, path: str, checkpoint_id: str) -> None:
        await to_thread.run_sync(self._store.delete_checkpoint, path, checkpoint_id)
