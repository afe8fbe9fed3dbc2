"""Kernel spec discovery, the standard Jupyter way (jupyter_client's KernelSpecManager)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from adrastea.errors import FileNotFound, InvalidPath, KernelSpecNotFound
from adrastea.kernels.types import KernelSpecModel, KernelSpecsModel

__all__ = ["KernelSpecCatalog"]

# Kernel spec names as jupyter_client accepts them (folder names, case-insensitive).
_VALID_NAME = re.compile(r"[A-Za-z0-9._-]+")
# Seconds a kernelspec listing is reused before the folders are scanned again.
_FRESH = 2.0
# Files Jupyter Server advertises as resources besides logo-* images.
_RESOURCE_FILES = ("kernel.js", "kernel.css")


class KernelSpecCatalog:
    """The installed kernel specs (``jupyter kernelspec list``), as API models.

    The listing is re-read from disk at most every ``_FRESH`` seconds, so a
    kernel installed while the server runs shows up within a moment without
    every request paying for a scan.  The disk work runs in a worker thread.
    Specs in ``hidden_dirs`` (the kernelspecs made for environments) can be
    started but are not listed.
    """

    def __init__(self, default_name: str, manager: KernelSpecManager | None = None) -> None:
        self.default_name = default_name
        self.manager = manager or KernelSpecManager()
        self.hidden_dirs: list[Path] = []
        self._cached: tuple[float, KernelSpecsModel] | None = None

    async def all(self) -> KernelSpecsModel:
        """Every spec, by name, with the default's name."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < _FRESH:
            return self._cached[1]
        model = await anyio.to_thread.run_sync(self._all)
        self._cached = (now, model)
        return model

    async def get(self, name: str) -> KernelSpecModel:
        """One spec by name.  Raises KernelSpecNotFound."""
        spec = await self.load(name)
        return await anyio.to_thread.run_sync(_model, name, spec.to_dict(), spec.resource_dir)

    async def load(self, name: str) -> KernelSpec:
        """jupyter_client's KernelSpec for ``name``.  Raises KernelSpecNotFound."""
        if not _VALID_NAME.fullmatch(name):
            raise KernelSpecNotFound(f"no kernel spec named {name!r}")
        try:
            return await anyio.to_thread.run_sync(self.manager.get_kernel_spec, name)
        except NoSuchKernel as exc:
            raise KernelSpecNotFound(f"no kernel spec named {name!r}") from exc

    async def resource(self, name: str, resource: str) -> Path:
        """The file of one resource (a logo, kernel.js) of spec ``name``.

        Raises:
            KernelSpecNotFound: no such spec.
            InvalidPath: ``resource`` leaves the spec's folder.
            FileNotFound: no such file in it.
        """
        spec = await self.load(name)
        return await anyio.to_thread.run_sync(_resource_file, Path(spec.resource_dir), resource)

    def _all(self) -> KernelSpecsModel:
        specs: dict[str, KernelSpecModel] = {}
        for name, info in self.manager.get_all_specs().items():
            if _made_for_environment(info) or any(
                Path(info["resource_dir"]).is_relative_to(d) for d in self.hidden_dirs
            ):
                continue
            try:
                specs[name] = _model(name, info["spec"], info["resource_dir"])
            except (KeyError, OSError):  # a half-installed spec is skipped, not fatal
                continue
        return KernelSpecsModel(default=self.default_name, kernelspecs=specs)


def _model(name: str, spec: dict[str, Any], resource_dir: str) -> KernelSpecModel:
    folder = Path(resource_dir)
    base = f"/kernelspecs/{quote(name)}/"
    resources = {f: base + f for f in _RESOURCE_FILES if (folder / f).is_file()}
    for logo in sorted(folder.glob("logo-*")):
        resources[logo.stem] = base + quote(logo.name)
    return KernelSpecModel(name=name, spec=spec, resources=resources)


def _resource_file(folder: Path, resource: str) -> Path:
    root = folder.resolve()
    if "\0" in resource:
        raise InvalidPath(f"not a valid path: {resource!r}")
    target = (root / resource).resolve()
    if not target.is_relative_to(root) or target == root:
        raise InvalidPath(f"kernel spec resource outside its folder: {resource!r}")
    if not target.is_file():
        raise FileNotFound(f"no kernel spec resource {resource!r}")
    return target


def _made_for_environment(info: dict[str, Any]) -> bool:
    """Whether a spec was written for an environment (started, never listed)."""
    metadata = info.get("spec", {}).get("metadata") or {}
    return isinstance(metadata.get("adrastea"), dict) and "environment" in metadata["adrastea"]
