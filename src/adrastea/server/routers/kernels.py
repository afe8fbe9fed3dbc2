"""``/api/kernels``: Jupyter Server's kernels REST API and kernel WebSocket."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from adrastea.config import Settings
from adrastea.errors import AdrasteaError, BadRequest
from adrastea.kernels import KernelModel, KernelRegistry
from adrastea.kernels._environments import EnvironmentCatalog
from adrastea.server._channels import serve_kernel_channels
from adrastea.server.deps import get_environments, get_kernels, get_settings
from adrastea.server.problems import problem_response, ws_close_code

router = APIRouter(tags=["kernels"])

Kernels = Annotated[KernelRegistry, Depends(get_kernels)]
Environments = Annotated[EnvironmentCatalog, Depends(get_environments)]

_KERNEL_ENV = re.compile(r"KERNEL_[A-Za-z0-9_]*")


class KernelStartRequest(BaseModel):
    """Body of ``POST /api/kernels``; unknown fields are ignored, as Jupyter does."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, description="Kernel spec name (default: the configured one).")
    path: str | None = Field(
        None, description="API path whose folder becomes the kernel's working directory."
    )
    kernel_id: str | None = Field(None, description="Start under this id (a UUID).")
    env: dict[str, str] | None = Field(
        None,
        description="Environment for the kernel; only KERNEL_* variables are used "
        "(as a Jupyter kernel gateway does).",
    )
    environment: str | None = Field(
        None,
        description="Start in this environment (see /api/environments) instead of "
        "from the kernel spec alone; name, if given, must be its kernel spec.",
    )
    choices: dict[str, str | int] | None = Field(
        None, description="The user's choices for the environment's open fields."
    )


@router.get("/api/kernels")
async def list_kernels(kernels: Kernels) -> list[KernelModel]:
    """Every running kernel."""
    return kernels.list()


@router.post("/api/kernels", status_code=201)
async def start_kernel(
    response: Response,
    kernels: Kernels,
    environments: Environments,
    body: Annotated[KernelStartRequest | None, Body()] = None,
) -> KernelModel:
    """Start a kernel; returns once launched (``execution_state`` is ``starting``).

    With ``environment`` (and ``choices``) the kernel starts in that place,
    e.g. a Slurm job; bad choices are refused (422 naming the field) before
    anything starts.
    """
    request = body or KernelStartRequest()
    place = None
    if request.environment is not None or request.choices:
        place = environments.choose(request.environment, request.choices, kernelspec=request.name)
    env = {}
    for key, value in (request.env or {}).items():
        if not _KERNEL_ENV.fullmatch(key):
            continue  # like a kernel gateway: only KERNEL_* variables pass
        if "\0" in value:
            raise BadRequest(f"env.{key}: contains a NUL character")
        env[key] = value
    if place is not None:
        kernel = await kernels.start_in(
            *place, path=request.path, env=env, kernel_id=request.kernel_id
        )
    else:
        kernel = await kernels.start(
            request.name, path=request.path, env=env, kernel_id=request.kernel_id
        )
    response.headers["Location"] = f"/api/kernels/{kernel.id}"
    return kernel.model()


@router.get("/api/kernels/{kernel_id}")
async def get_kernel(kernel_id: str, kernels: Kernels) -> KernelModel:
    """One kernel."""
    return kernels.get(kernel_id).model()


@router.delete("/api/kernels/{kernel_id}", status_code=204)
async def shutdown_kernel(kernel_id: str, kernels: Kernels) -> Response:
    """Shut the kernel down; its WebSocket clients are disconnected."""
    await kernels.shutdown(kernel_id)
    return Response(status_code=204)


@router.post("/api/kernels/{kernel_id}/interrupt", status_code=204)
async def interrupt_kernel(kernel_id: str, kernels: Kernels) -> Response:
    """Interrupt what the kernel is running."""
    await kernels.interrupt(kernel_id)
    return Response(status_code=204)


@router.post("/api/kernels/{kernel_id}/restart")
async def restart_kernel(kernel_id: str, kernels: Kernels) -> KernelModel:
    """Restart the kernel; returns once the new process answers."""
    return await kernels.restart(kernel_id)


@router.websocket("/api/kernels/{kernel_id}/channels")
async def kernel_channels(
    websocket: WebSocket,
    kernel_id: str,
    kernels: Kernels,
    settings: Annotated[Settings, Depends(get_settings)],
    session_id: str | None = None,
    iopub: bool = True,
) -> None:
    """The kernel's channels, in the legacy JSON or the v1 binary protocol.

    ``?iopub=false`` (an Adrastea extension): relay replies only, no iopub,
    for clients that just make requests such as completion.
    """
    try:
        kernel = kernels.get(kernel_id)
    except AdrasteaError as exc:
        await _refuse(websocket, exc)
        return
    await serve_kernel_channels(
        websocket,
        kernel,
        session_id=session_id,
        nudge_timeout=settings.kernels.startup_timeout,
        iopub=iopub,
    )


async def _refuse(websocket: WebSocket, exc: AdrasteaError) -> None:
    # An HTTP answer to the handshake where the server allows it (like
    # Jupyter Server's 404), else the mapped close code.
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            problem_response(exc.status, exc.detail, code=exc.code, title=exc.title)
        )
    else:
        await websocket.close(code=ws_close_code(exc), reason=exc.detail)
