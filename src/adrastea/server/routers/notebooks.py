"""``/api/notebooks/{path}/…``: run notebooks on the server, and the live document.

REST control works without any browser: queue cells, interrupt, restart,
drop the queue, answer ``input()``, read status and spilled outputs.
``/api/documents/{path}`` is the y-websocket endpoint of the live document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Response, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from adrastea.errors import AdrasteaError
from adrastea.server._notebooks import NotebookService
from adrastea.server.deps import get_notebooks
from adrastea.server.problems import ws_close_code

router = APIRouter(tags=["notebooks"])

Notebooks = Annotated[NotebookService, Depends(get_notebooks)]


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cells: list[str] | Literal["all"] = Field(
        description='Cell ids to run in order, or "all" for every code cell.'
    )
    environment: str | None = Field(
        None,
        description="Run them in this environment (the kernel is moved there first if needed).",
    )
    choices: dict[str, str | int] = Field(
        default_factory=dict, description="The user's choices for the environment's open fields."
    )


class InputAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="The text input() returns.")


class EnvironmentChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str = Field(description="Name of the environment to move the kernel to.")
    choices: dict[str, str | int] = Field(
        default_factory=dict, description="The user's choices for the environment's open fields."
    )


@router.post("/api/notebooks/{path:path}/execute", status_code=202)
async def execute(path: str, body: ExecuteRequest, notebooks: Notebooks) -> dict[str, Any]:
    """Queue cells to run on the notebook's kernel (started if needed); returns at once."""
    queued = await notebooks.execute(path, body.cells, body.environment, body.choices)
    # Let the engine send the first execute_request before this response is
    # written: the kernel starts working a little sooner.
    await anyio.lowlevel.checkpoint()
    return {"queued": queued}


@router.post("/api/notebooks/{path:path}/interrupt", status_code=204)
async def interrupt(path: str, notebooks: Notebooks) -> Response:
    """Interrupt the running cell and drop the queue."""
    await notebooks.interrupt(path)
    return Response(status_code=204)


@router.post("/api/notebooks/{path:path}/restart")
async def restart(path: str, notebooks: Notebooks) -> dict[str, Any]:
    """Restart the notebook's kernel in the same place; the queue is dropped."""
    await notebooks.restart(path)
    return await notebooks.status(path)


@router.delete("/api/notebooks/{path:path}/queue")
async def clear_queue(path: str, notebooks: Notebooks) -> dict[str, Any]:
    """Drop every queued cell (the running one goes on)."""
    return {"dropped": await notebooks.clear_queue(path)}


@router.post("/api/notebooks/{path:path}/input", status_code=204)
async def answer_input(path: str, body: InputAnswer, notebooks: Notebooks) -> Response:
    """Answer the pending ``input()`` of the running cell."""
    await notebooks.answer_input(path, body.value)
    return Response(status_code=204)


@router.delete("/api/notebooks/{path:path}/kernel", status_code=204)
async def shutdown_kernel(path: str, notebooks: Notebooks) -> Response:
    """Shut the notebook's kernel down (outputs stay in the document)."""
    await notebooks.shutdown_kernel(path)
    return Response(status_code=204)


@router.put("/api/notebooks/{path:path}/environment")
async def set_environment(
    path: str, body: EnvironmentChoice, notebooks: Notebooks
) -> dict[str, Any]:
    """Restart the notebook's kernel in another environment (local or Slurm)."""
    return await notebooks.set_environment(path, body.environment, body.choices)


@router.get("/api/notebooks/{path:path}/status")
async def status(path: str, notebooks: Notebooks) -> dict[str, Any]:
    """Kernel state, environment, queue, running cell, last error, pending input."""
    return await notebooks.status(path)


@router.post("/api/notebooks/{path:path}/save")
async def save(path: str, notebooks: Notebooks) -> dict[str, Any]:
    """Save the live document now (refused with 409 if the file changed on disk)."""
    nb = await notebooks.open(path)
    stamp = await nb.live.save()
    modified = datetime.fromtimestamp(stamp.mtime_ns / 1e9, UTC)
    return {"path": nb.path, "size": stamp.size, "last_modified": modified.isoformat()}


@router.get("/api/notebooks/{path:path}/outputs/{output_id}")
async def read_output(
    path: str,
    output_id: str,
    notebooks: Notebooks,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=16 << 20)] = 1 << 20,
) -> dict[str, Any]:
    """A page of an output too large for the document (see ``metadata.adrastea``)."""
    nb = await notebooks.open(path)
    page = await nb.live.read_output(output_id, offset, limit)
    return {
        "output_id": page.output_id,
        "kind": page.kind,
        "offset": page.offset,
        "next_offset": page.next_offset,
        "total_bytes": page.total_bytes,
        "eof": page.eof,
        "text": page.text,
    }


@router.websocket("/api/documents/{path:path}")
async def document_socket(websocket: WebSocket, path: str) -> None:
    """The live document over the y-websocket protocol.

    A client that passes ``?session=ID`` from an earlier connection is
    refused with close code 4409 if the document was rebuilt since (its
    local copy must be discarded, not merged).
    """
    notebooks: NotebookService = websocket.app.state.notebooks
    try:
        nb = await notebooks.open(path)
    except AdrasteaError as exc:
        await websocket.close(ws_close_code(exc), exc.detail[:120])
        return
    await websocket.accept()
    session = websocket.query_params.get("session")
    if session and session != nb.live.session_id:
        await websocket.close(4409, "document was rebuilt; discard local state")
        return
    await nb.room.serve(websocket, holds_nothing=not session)
