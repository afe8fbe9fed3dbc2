"""``GET /api/environments``: where kernels can run, with the form of choices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from adrastea.kernels._environments import EnvironmentCatalog
from adrastea.server.deps import get_environments

router = APIRouter(tags=["environments"])


@router.get("/api/environments")
async def list_environments(
    environments: Annotated[EnvironmentCatalog, Depends(get_environments)],
) -> list[dict[str, Any]]:
    """Every environment: name, kernelspec, placement and a JSON Schema of choices."""
    return [env.model() for env in environments.all()]
