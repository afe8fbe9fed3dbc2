"""``/api/sessions``: Jupyter Server's sessions REST API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from adrastea.errors import BadRequest
from adrastea.kernels._environments import Environment, EnvironmentCatalog
from adrastea.server._sessions import SessionManager, SessionModel
from adrastea.server.deps import get_environments, get_sessions

router = APIRouter(tags=["sessions"])

Sessions = Annotated[SessionManager, Depends(get_sessions)]
Environments = Annotated[EnvironmentCatalog, Depends(get_environments)]


class KernelRef(BaseModel):
    """Which kernel: a running one by ``id`` (wins), or a new one from spec ``name``.

    A new kernel starts in ``environment`` with ``choices`` when one is given.
    """

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(None, description="A running kernel's id.")
    name: str | None = Field(None, description="Kernel spec to start a new kernel from.")
    environment: str | None = Field(
        None,
        description="Start a new kernel in this environment (see /api/environments); "
        "name, if given, must be its kernel spec.",
    )
    choices: dict[str, str | int] | None = Field(
        None, description="The user's choices for the environment's open fields."
    )

    def place(self, environments: EnvironmentCatalog) -> tuple[Environment, dict[str, Any]] | None:
        """The checked environment and choices for a new kernel, if any were asked for."""
        if self.id is not None or (self.environment is None and not self.choices):
            return None
        return environments.choose(self.environment, self.choices, kernelspec=self.name)


class _Notebook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str | None = None
    name: str | None = None


class SessionCreate(BaseModel):
    """Body of ``POST /api/sessions``."""

    model_config = ConfigDict(extra="ignore")

    path: str | None = Field(None, description="API path of the document (required).")
    name: str | None = Field(None, description="Display name, usually the file name.")
    type: str | None = Field(None, description="notebook, console or file (required).")
    kernel: KernelRef | None = Field(None, description="Kernel to use (default: a new one).")
    notebook: _Notebook | None = Field(None, description="Deprecated form of path and name.")


class SessionUpdate(BaseModel):
    """Body of ``PATCH /api/sessions/{id}``: only the given fields change."""

    model_config = ConfigDict(extra="ignore")

    path: str | None = Field(None, description="New path (the document was renamed).")
    name: str | None = Field(None, description="New display name.")
    type: str | None = Field(None, description="New type.")
    kernel: KernelRef | None = Field(None, description="Switch to this kernel.")
    notebook: _Notebook | None = Field(None, description="Deprecated form of path.")


@router.get("/api/sessions")
async def list_sessions(sessions: Sessions) -> list[SessionModel]:
    """Every session."""
    return sessions.list()


@router.post("/api/sessions", status_code=201)
async def create_session(
    body: SessionCreate, response: Response, sessions: Sessions, environments: Environments
) -> SessionModel:
    """Create a session, or return the one already open on ``path``.

    A new kernel starts in ``kernel.environment`` with ``kernel.choices``
    when given; bad choices are refused (422 naming the field) first.
    """
    path, type_ = body.path, body.type
    if body.notebook is not None and (body.notebook.path or body.notebook.name):
        # The pre-2015 API, still accepted by Jupyter Server.
        path, type_ = body.notebook.path or body.notebook.name, "notebook"
    if not path:
        raise BadRequest("missing field in JSON data: path")
    if not type_:
        raise BadRequest("missing field in JSON data: type")
    kernel = body.kernel or KernelRef()
    place = kernel.place(environments)
    model = sessions.find_by_path(path)
    if model is None:
        model = await sessions.create(
            path,
            name=body.name or "",
            type=type_,
            kernel_name=kernel.name,
            kernel_id=kernel.id,
            place=place,
        )
    response.headers["Location"] = f"/api/sessions/{model.id}"
    return model


@router.get("/api/sessions/{session_id}")
async def get_session(session_id: str, sessions: Sessions) -> SessionModel:
    """One session."""
    return sessions.get(session_id)


@router.patch("/api/sessions/{session_id}")
async def update_session(
    session_id: str, body: SessionUpdate, sessions: Sessions, environments: Environments
) -> SessionModel:
    """Rename or retype a session, or change its kernel (the old one is shut down)."""
    path, type_ = body.path, body.type
    if body.notebook is not None and body.notebook.path:
        path, type_ = body.notebook.path, "notebook"
    kernel = body.kernel or KernelRef()
    return await sessions.update(
        session_id,
        path=path,
        name=body.name,
        type=type_,
        kernel_name=kernel.name,
        kernel_id=kernel.id,
        place=kernel.place(environments),
    )


@router.delete("/api/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, sessions: Sessions) -> Response:
    """Delete the session and shut its kernel down."""
    await sessions.delete(session_id)
    return Response(status_code=204)
