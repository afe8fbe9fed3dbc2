"""The contents operations on disk: read, save, create, copy, rename, delete.

``FileStore`` is blocking; ``ContentsManager`` runs each call in a worker
thread.  Every API path is vetted by ``PathGuard`` first, every content is
checked before the disk is touched, and every file write is atomic.  Deletes
are permanent (no trash can on a cluster) and, as in Jupyter Server, remove
non-empty folders too.  New files get the default mode; overwritten ones keep
theirs.
"""

from __future__ import annotations

import base64
import binascii
import errno
import logging
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from adrastea.contents._atomic import copy_atomic, fsync_dir, temp_name, write_atomic
from adrastea.contents._checkpoints import Checkpoints
from adrastea.contents._models import (
    CheckpointModel,
    ContentsModel,
    ContentsType,
    NewRequest,
    SaveRequest,
    parse_type,
    pending_model,
)
from adrastea.contents._names import copy_candidates, untitled_candidates
from adrastea.contents._notebooks import empty_notebook, notebook_bytes
from adrastea.contents._oserrors import os_errors
from adrastea.contents._paths import PathGuard, Target
from adrastea.contents._reading import FileFormat, read_model
from adrastea.contents._uploads import Uploads
from adrastea.errors import (
    BadEncoding,
    BadRequest,
    Conflict,
    FileExists,
    FileNotFound,
    InvalidPath,
    WrongType,
)

__all__ = ["FileStore"]

log = logging.getLogger(__name__)


class FileStore:
    """Blocking implementation of the contents API over a ``PathGuard``-ed root."""

    def __init__(self, guard: PathGuard, checkpoints: Checkpoints, uploads: Uploads) -> None:
        self.guard = guard
        self.checkpoints = checkpoints
        self.uploads = uploads

    # -- reading --------------------------------------------------------------

    def get(
        self,
        api: str,
        *,
        kind: ContentsType | None,
        fmt: FileFormat | None,
        content: bool,
        require_hash: bool,
    ) -> ContentsModel:
        target = self.guard.resolve(api)
        return read_model(
            self.guard, target, kind=kind, fmt=fmt, content=content, require_hash=require_hash
        )

    # -- PUT ------------------------------------------------------------------

    def save(self, api: str, request: SaveRequest) -> tuple[ContentsModel, bool]:
        """Save, upload a chunk of, or create ``api``; returns (model, created)."""
        if request.copy_from:
            raise BadRequest("cannot copy with PUT; POST to the folder with copy_from")
        target = self.guard.resolve(api)
        kind = _kind(request.type, target.api)
        with os_errors(target.api):
            info = _stat(target.real)
            if info is not None and not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                raise WrongType(f"{target.api!r} is not a regular file or directory")
            is_dir = info is not None and stat.S_ISDIR(info.st_mode)
            if kind == "directory":
                if info is not None and not is_dir:
                    raise WrongType(f"{target.api!r} exists and is not a directory")
                if info is None:
                    self._require_parent(target)
                    target.real.mkdir()
                    fsync_dir(target.real.parent)
                return self._model(target), info is None
            if is_dir:
                raise WrongType(f"{target.api!r} is a directory, not a {kind}")
            if request.chunk is not None:
                return self._upload(target, kind, request), info is None
            data = _content_bytes(kind, request, exists=info is not None)
            self._require_parent(target)
            write_atomic(target.real, data)
        if kind == "notebook":
            # A new notebook's leftover checkpoint (from a namesake deleted behind
            # our back) is stale, so it is replaced; an existing one is kept.
            self._first_checkpoint(target, keep_existing=info is not None)
        return self._model(target), info is None

    def _upload(self, target: Target, kind: ContentsType, request: SaveRequest) -> ContentsModel:
        assert request.chunk is not None
        if kind != "file":
            raise BadRequest(f"chunked uploads are for files, not {kind}s")
        if request.content is None:
            raise BadRequest("an upload chunk needs content")
        data = _file_bytes(request)
        self._require_parent(target)
        received = self.uploads.receive(target.api, target.real, request.chunk, data)
        if received is not None:
            return pending_model(target.api, received)
        return self._model(target)

    # -- POST -----------------------------------------------------------------

    def create(self, dir_api: str, request: NewRequest) -> ContentsModel:
        """A new untitled entry in ``dir_api``, or a copy of ``request.copy_from``.

        A copy goes into ``dir_api`` as ``name-Copy1.ext`` when that is a
        folder, or to exactly ``dir_api`` when nothing exists there yet.
        """
        target = self.guard.resolve(dir_api)
        with os_errors(target.api):
            info = _stat(target.real)
        if info is not None and not stat.S_ISDIR(info.st_mode):
            raise BadRequest(f"cannot POST to the file {target.api!r}; use PUT to save it")
        if request.copy_from:
            return self._copy(request.copy_from, target, is_dir=info is not None)
        if info is None:
            raise FileNotFound(f"no such directory: {target.api!r}")
        return self._new_untitled(target, request)

    def _new_untitled(self, directory: Target, request: NewRequest) -> ContentsModel:
        ext = request.ext
        if any(bad in ext for bad in ("/", "\\", "\x00")):
            raise InvalidPath(f"ext may not contain slashes, backslashes or NULs: {ext!r}")
        kind = parse_type(request.type) or ("notebook" if ext == ".ipynb" else "file")
        for name in untitled_candidates(kind, ext):
            target = self.guard.child(directory, name)
            with os_errors(target.api):
                if os.path.lexists(target.path):
                    continue
                try:
                    if kind == "directory":
                        target.real.mkdir()
                        fsync_dir(directory.real)
                    else:
                        data = empty_notebook() if kind == "notebook" else b""
                        write_atomic(target.real, data, overwrite=False)
                except FileExistsError:
                    continue  # taken meanwhile by someone else; try the next name
            if kind == "notebook":
                self._first_checkpoint(target, keep_existing=False)
            return self._model(target)
        raise AssertionError("untitled names are endless")  # pragma: no cover

    def _copy(self, copy_from: str, destination: Target, *, is_dir: bool) -> ContentsModel:
        source = self.guard.resolve(copy_from)
        if not source.api:
            raise InvalidPath("cannot copy the root folder")
        with os_errors(source.api):
            info = source.real.stat()
        copying_dir = stat.S_ISDIR(info.st_mode)
        if not copying_dir and not stat.S_ISREG(info.st_mode):
            raise WrongType(f"{source.api!r} is not a regular file or directory")
        into = destination.real if is_dir else destination.real.parent
        if copying_dir and _within(into, source.real):
            raise InvalidPath(f"cannot copy the folder {source.api!r} into itself")
        candidates: Iterable[Target]
        if is_dir:
            candidates = (self.guard.child(destination, n) for n in copy_candidates(source.name))
        else:
            self._require_parent(destination)
            candidates = (destination,)
        for target in candidates:
            with os_errors(target.api):
                if os.path.lexists(target.path):
                    if not is_dir:
                        raise FileExists(f"{target.api!r} already exists")
                    continue
                try:
                    if copying_dir:
                        self._copy_tree(source.real, target.real)
                    else:
                        copy_atomic(source.real, target.real, overwrite=False)
                except FileExistsError:
                    if not is_dir:
                        raise FileExists(f"{target.api!r} already exists") from None
                    continue
            return self._model(target)
        raise AssertionError("copy names are endless")  # pragma: no cover

    def _copy_tree(self, source: Path, target: Path) -> None:
        """Copy a folder next to ``target`` under a temporary name, then rename it in.

        Links are copied as links (following them could pull in files from
        outside the root) and the state folder is never copied.
        """
        state = str(self.guard.state_dir)

        def skip_state(folder: str, names: list[str]) -> list[str]:
            return [name for name in names if str(Path(folder, name)) == state]

        temp = target.parent / temp_name()
        try:
            shutil.copytree(source, temp, symlinks=True, ignore=skip_state)
            if os.path.lexists(target):
                raise FileExistsError(target)
            temp.rename(target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        fsync_dir(target.parent)

    # -- PATCH and DELETE -----------------------------------------------------

    def rename(self, old_api: str, new_api: str) -> ContentsModel:
        """Move ``old_api`` to ``new_api`` (which must not exist) with its checkpoints."""
        old, new = self.guard.resolve(old_api), self.guard.resolve(new_api)
        if not old.api or not new.api:
            raise InvalidPath("cannot rename the root folder")
        if old.api == new.api:
            return self._model(new)
        with os_errors(old.api):
            info = old.path.lstat()
        with os_errors(new.api):
            if os.path.lexists(new.path) and not _same_entry(old.path, new.path):
                raise FileExists(f"{new.api!r} already exists")
            self._require_parent(new)
            if stat.S_ISDIR(info.st_mode):
                if _within(new.real, old.real):
                    raise InvalidPath(f"cannot move the folder {old.api!r} into itself")
                self._refuse_if_holds_state(old)
            try:
                old.path.rename(new.path)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.move(old.path, new.path)
            fsync_dir(new.path.parent)
            fsync_dir(old.path.parent)
            self.checkpoints.rename_all(old.api, new.api)
        return self._model(new)

    def delete(self, api: str) -> None:
        """Delete a file, link or folder (with everything in it) and its checkpoints."""
        target = self.guard.resolve(api)
        if not target.api:
            raise InvalidPath("cannot delete the root folder")
        with os_errors(target.api):
            info = target.path.lstat()
            if stat.S_ISDIR(info.st_mode):
                self._refuse_if_holds_state(target)
                shutil.rmtree(target.path)
            else:
                target.path.unlink()
            fsync_dir(target.path.parent)
            self.checkpoints.delete_all(target.api)

    # -- checkpoints ----------------------------------------------------------

    def list_checkpoints(self, api: str) -> list[CheckpointModel]:
        target = self.guard.resolve(api)
        with os_errors(target.api):
            target.real.stat()
            return self.checkpoints.list(target.api)

    def create_checkpoint(self, api: str) -> CheckpointModel:
        target = self.guard.resolve(api)
        with os_errors(target.api):
            if not stat.S_ISREG(target.real.stat().st_mode):
                raise WrongType(f"checkpoints are kept for files, and {target.api!r} is not one")
            return self.checkpoints.create(target.api, target.real)

    def restore_checkpoint(self, api: str, checkpoint_id: str) -> None:
        target = self.guard.resolve(api)
        with os_errors(target.api):
            if target.real.is_dir():
                raise WrongType(f"{target.api!r} is a directory")
            self._require_parent(target)
            self.checkpoints.restore(target.api, checkpoint_id, target.real)

    def delete_checkpoint(self, api: str, checkpoint_id: str) -> None:
        target = self.guard.resolve(api)
        with os_errors(target.api):
            self.checkpoints.delete(target.api, checkpoint_id)

    # -- helpers --------------------------------------------------------------

    def _first_checkpoint(self, target: Target, *, keep_existing: bool) -> None:
        """Give a saved notebook a checkpoint to revert to, as Jupyter does.

        Best effort: the save itself succeeded, so failing it now (full disk
        in the state folder, say) would tell the user a lie.
        """
        try:
            if not (keep_existing and self.checkpoints.list(target.api)):
                self.checkpoints.create(target.api, target.real)
        except OSError as exc:
            log.warning("could not checkpoint %s: %s", target.api, exc)

    def _model(self, target: Target) -> ContentsModel:
        return read_model(self.guard, target, content=False)

    @staticmethod
    def _require_parent(target: Target) -> None:
        if not target.real.parent.is_dir():
            raise FileNotFound(f"no such directory: {target.parent_api!r}")

    def _refuse_if_holds_state(self, target: Target) -> None:
        if _within(self.guard.state_dir, target.real):
            raise Conflict(
                f"{target.api!r} holds the server's state folder and cannot be moved or deleted"
            )


def _kind(requested: str | None, api: str) -> ContentsType:
    """The type a save is for: as asked, else guessed from the name."""
    return parse_type(requested) or ("notebook" if api.endswith(".ipynb") else "file")


def _content_bytes(kind: ContentsType, request: SaveRequest, *, exists: bool) -> bytes:
    if request.content is None:
        if exists:
            raise BadRequest("no content to save; send 'content' (and 'format' for files)")
        # Creating without content makes an empty file or notebook, as in Jupyter.
        return empty_notebook() if kind == "notebook" else b""
    if kind == "notebook":
        return notebook_bytes(request.content)
    return _file_bytes(request)


def _file_bytes(request: SaveRequest) -> bytes:
    if request.format not in ("text", "base64"):
        raise BadRequest("file content needs format 'text' or 'base64'")
    if not isinstance(request.content, str):
        raise BadEncoding(f"file content must be a string, not {type(request.content).__name__}")
    try:
        if request.format == "text":
            return request.content.encode("utf-8")
        # Tolerate the line breaks some encoders insert, but no other stray characters.
        compact = "".join(request.content.split())
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (UnicodeError, binascii.Error) as exc:
        raise BadEncoding(f"file content is not valid {request.format}: {exc}") from exc


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both resolved)."""
    return path == folder or folder in path.parents


def _same_entry(old: Path, new: Path) -> bool:
    """Whether two names are one entry (a case-only rename on a case-insensitive disk)."""
    if old.name.lower() != new.name.lower() or old.parent != new.parent:
        return False
    try:
        return old.samefile(new)
    except OSError:
        return False
