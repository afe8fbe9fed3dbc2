"""``GET /api`` and ``GET /api/status``: version and liveness, Jupyter Server shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends

from adrastea import __version__
from adrastea.kernels import KernelRegistry
from adrastea.server.deps import get_kernels

router = APIRouter(tags=["status"])

_STARTED = datetime.now(UTC)


@router.get("/api")
async def api_version() -> dict[str, str]:
    """The server version, as Jupyter Server reports it."""
    return {"version": __version__}


@router.get("/api/status")
async def api_status(kernels: KernelRegistry = Depends(get_kernels)) -> dict[str, Any]:
    """Start time, last activity, kernel and connection counts."""
    return {
        "started": _STARTED.isoformat(),
        "last_activity": kernels.last_activity().isoformat(),
        "kernels": len(kernels.list()),
        "connections": kernels.connection_count(),
    }
