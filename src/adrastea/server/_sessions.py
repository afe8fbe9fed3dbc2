"""Sessions: a notebook (or console, file) path bound to a kernel, as in Jupyter Server.

Held in memory.  A session whose kernel has gone (shut down elsewhere, culled)
disappears with it, as Jupyter Server's session manager prunes such rows.
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adrastea.errors import BadRequest, KernelNotFound, SessionNotFound
from adrastea.kernels import KernelModel, KernelRegistry
from adrastea.kernels._environments import Environment

#: An environment and the user's resolved choices for it (``EnvironmentCatalog.choose``).
Place = tuple[Environment, dict[str, Any]]

__all__ = ["NotebookRef", "SessionManager", "SessionModel"]


class NotebookRef(BaseModel):
    """The deprecated ``notebook`` field Jupyter still sends for notebook sessions."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="Same as the session's path.")
    name: str = Field(description="Same as the session's name.")


class SessionModel(BaseModel):
    """A session in Jupyter Server's ``/api/sessions`` shape."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The session's id (a UUID).")
    path: str = Field(description="API path of the document (or a unique name).")
    name: str = Field(description="Display name, usually the file name.")
    type: str = Field(description="notebook, console or file.")
    kernel: KernelModel = Field(description="The kernel the session talks to.")
    notebook: NotebookRef | None = Field(None, description="Deprecated: path and name again.")


@dataclass
class _Session:
    id: str
    path: str
    name: str
    type: str
    kernel_id: str


class SessionManager:
    """The sessions of this server; kernels come from the registry.

    Errors: ``SessionNotFound`` for unknown ids, ``KernelSpecNotFound`` /
    ``KernelStartFailed`` from starting kernels, ``BadRequest`` for a kernel
    id that does not exist.
    """

    def __init__(self, kernels: KernelRegistry) -> None:
        self.kernels = kernels
        self._sessions: dict[str, _Session] = {}

    def list(self) -> list[SessionModel]:
        """Every session whose kernel still runs."""
        self._prune()
        return [self._model(s) for s in self._sessions.values()]

    def get(self, session_id: str) -> SessionModel:
        """One session.  Raises SessionNotFound (also when its kernel is gone)."""
        return self._model(self._find(session_id))

    def find_by_path(self, path: str) -> SessionModel | None:
        """The session for ``path``, if there is one."""
        self._prune()
        for session in self._sessions.values():
            if session.path == path:
                return self._model(session)
        return None

    async def create(
        self,
        path: str,
        *,
        name: str = "",
        type: str = "notebook",
        kernel_name: str | None = None,
        kernel_id: str | None = None,
        place: Place | None = None,
    ) -> SessionModel:
        """A new session on an existing kernel (``kernel_id``) or a new one.

        A new kernel starts in ``place`` if given, else from ``kernel_name``.
        """
        _check_text(path=path, name=name, type=type)
        session_id = str(uuid.uuid4())
        if kernel_id is None or kernel_id not in self.kernels:
            kernel_id = await self._start_kernel(path, name, kernel_name, kernel_id, place)
        session = _Session(session_id, path, name, type, kernel_id)
        self._sessions[session_id] = session
        return self._model(session)

    async def update(
        self,
        session_id: str,
        *,
        path: str | None = None,
        name: str | None = None,
        type: str | None = None,
        kernel_name: str | None = None,
        kernel_id: str | None = None,
        place: Place | None = None,
    ) -> SessionModel:
        """Rename or retype a session, or move it to another kernel.

        ``kernel_id`` (which wins) must name a running kernel; ``place`` or
        ``kernel_name`` starts a new one.  The kernel it leaves is shut down,
        as Jupyter Server does.
        """
        session = self._find(session_id)
        _check_text(path=path, name=name, type=type)
        if kernel_id is not None and kernel_id not in self.kernels:
            raise BadRequest(f"no kernel with id {kernel_id!r}")
        new_path = path if path is not None else session.path
        new_name = name if name is not None else session.name
        if kernel_id is None and (kernel_name is not None or place is not None):
            kernel_id = await self._start_kernel(new_path, new_name, kernel_name, None, place)
        session.path, session.name = new_path, new_name
        session.type = type if type is not None else session.type
        old_kernel = session.kernel_id
        if kernel_id is not None and kernel_id != old_kernel:
            session.kernel_id = kernel_id
            if not any(s.kernel_id == old_kernel for s in self._sessions.values()):
                await self._shutdown_kernel(old_kernel)
        return self._model(session)

    async def delete(self, session_id: str) -> None:
        """Forget the session and shut its kernel down."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            raise SessionNotFound(f"no session with id {session_id!r}")
        await self._shutdown_kernel(session.kernel_id)

    async def _start_kernel(
        self,
        path: str,
        name: str,
        kernel_name: str | None,
        kernel_id: str | None,
        place: Place | None,
    ) -> str:
        # Like Jupyter Server: the kernel runs in the document's folder and
        # learns the document through JPY_SESSION_NAME.
        folder = posixpath.dirname(path.strip("/"))
        document = self.kernels.root / path.strip("/")
        if name and not path.endswith(name):
            document = self.kernels.root / folder / name
        env = {"JPY_SESSION_NAME": str(document)}
        if place is not None:
            kernel = await self.kernels.start_in(*place, path=folder, env=env, kernel_id=kernel_id)
        else:
            kernel = await self.kernels.start(
                kernel_name, path=folder, env=env, kernel_id=kernel_id
            )
        return kernel.id

    async def _shutdown_kernel(self, kernel_id: str) -> None:
        with contextlib.suppress(KernelNotFound):  # shut down or culled already
            await self.kernels.shutdown(kernel_id)

    def _find(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None or session.kernel_id not in self.kernels:
            self._sessions.pop(session_id, None)
            raise SessionNotFound(f"no session with id {session_id!r}")
        return session

    def _prune(self) -> None:
        for session in list(self._sessions.values()):
            if session.kernel_id not in self.kernels:
                del self._sessions[session.id]

    def _model(self, session: _Session) -> SessionModel:
        return SessionModel(
            id=session.id,
            path=session.path,
            name=session.name,
            type=session.type,
            kernel=self.kernels.get(session.kernel_id).model(),
            notebook=(
                NotebookRef(path=session.path, name=session.name)
                if session.type == "notebook"
                else None
            ),
        )


def _check_text(**fields: str | None) -> None:
    # A NUL cannot reach a kernel's environment (JPY_SESSION_NAME) or a path.
    for field, value in fields.items():
        if value is not None and "\0" in value:
            raise BadRequest(f"{field}: contains a NUL character")
