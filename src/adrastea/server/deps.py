"""Typed accessors for the app's services, for use with ``Depends``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.requests import HTTPConnection

from adrastea.config import Settings

if TYPE_CHECKING:
    from adrastea.contents import ContentsManager
    from adrastea.kernels import KernelRegistry
    from adrastea.kernels._environments import EnvironmentCatalog
    from adrastea.server._notebooks import NotebookService
    from adrastea.server._sessions import SessionManager


async def get_settings(conn: HTTPConnection) -> Settings:
    return cast(Settings, conn.app.state.settings)


async def get_contents(conn: HTTPConnection) -> ContentsManager:
    return cast("ContentsManager", conn.app.state.contents)


async def get_kernels(conn: HTTPConnection) -> KernelRegistry:
    return cast("KernelRegistry", conn.app.state.kernels)


async def get_sessions(conn: HTTPConnection) -> SessionManager:
    return cast("SessionManager", conn.app.state.sessions)


async def get_notebooks(conn: HTTPConnection) -> NotebookService:
    return cast("NotebookService", conn.app.state.notebooks)


async def get_environments(conn: HTTPConnection) -> EnvironmentCatalog:
    return cast("EnvironmentCatalog", conn.app.state.environments)
