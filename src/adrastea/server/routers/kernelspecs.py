"""``/api/kernelspecs`` and ``/kernelspecs/{name}/{resource}``, Jupyter Server's shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import FileResponse

from adrastea.kernels import KernelRegistry, KernelSpecModel, KernelSpecsModel
from adrastea.server.deps import get_kernels

router = APIRouter(tags=["kernelspecs"])

Kernels = Annotated[KernelRegistry, Depends(get_kernels)]

# Logos change only when a kernel is reinstalled; Jupyter Server caches them for 30 days.
_RESOURCE_MAX_AGE = 30 * 24 * 3600


@router.get("/api/kernelspecs")
async def list_kernelspecs(kernels: Kernels) -> KernelSpecsModel:
    """Every installed kernel spec and the default one."""
    return await kernels.specs.all()


@router.get("/api/kernelspecs/{name}")
async def get_kernelspec(name: str, kernels: Kernels) -> KernelSpecModel:
    """One kernel spec."""
    return await kernels.specs.get(name)


@router.get("/kernelspecs/{name}/{resource:path}", response_class=FileResponse)
async def kernelspec_resource(name: str, resource: str, kernels: Kernels) -> FileResponse:
    """A file from the kernel spec's folder (its logos, kernel.js); nothing outside it."""
    path = await kernels.specs.resource(name, resource)
    return FileResponse(path, headers={"Cache-Control": f"max-age={_RESOURCE_MAX_AGE}"})
