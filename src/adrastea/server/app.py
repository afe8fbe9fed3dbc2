"""The app factory: assembles the FastAPI app from small services.

Services live for the app's lifespan and are reached by routers through
``adrastea.server.deps``.  Nothing here knows HTTP error shapes (see
``problems``) or auth rules (see ``auth``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from adrastea import __version__
from adrastea.config import Settings
from adrastea.contents import ContentsManager
from adrastea.kernels import KernelRegistry
from adrastea.kernels._environments import EnvironmentCatalog
from adrastea.server._notebooks import NotebookService
from adrastea.server._sessions import SessionManager
from adrastea.server.auth import TokenAuthMiddleware
from adrastea.server.problems import install_problem_handlers
from adrastea.server.routers import (
    contents,
    environments,
    jobs,
    kernels,
    kernelspecs,
    notebooks,
    sessions,
    status,
    ui,
)

__all__ = ["ROUTERS", "create_app"]

#: Every router the app mounts, in order (tests enumerate their routes).
# Requests are matched router by router, route by route, in this order (about
# 1 µs a route): the notebook controls, which a user waits on, come early.  No two
# routers share a path prefix, so the order decides nothing else.
ROUTERS = tuple(
    m.router
    for m in (status, notebooks, contents, kernelspecs, kernels, sessions, environments, jobs, ui)
)


def create_app(settings: Settings, token: str) -> FastAPI:
    """Build the single-user server app for ``settings``, guarded by ``token``."""
    root = settings.server.root_dir.expanduser().resolve()
    state_dir = settings.server.resolved_state_dir()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            state_dir.mkdir(parents=True, exist_ok=True)
            app.state.contents = ContentsManager(root, settings.contents, state_dir)
            app.state.kernels = await stack.enter_async_context(
                KernelRegistry(settings.kernels, state_dir, root)
            )
            app.state.sessions = SessionManager(app.state.kernels)
            specs = await app.state.kernels.specs.all()
            app.state.environments = EnvironmentCatalog(settings, specs.kernelspecs)
            app.state.notebooks = await stack.enter_async_context(
                NotebookService(
                    settings,
                    app.state.contents,
                    app.state.kernels,
                    app.state.environments,
                    state_dir,
                )
            )
            _build_routes(app)
            yield

    app = FastAPI(
        title="Adrastea",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(TokenAuthMiddleware, token=token)
    return app


def _build_routes(app: FastAPI) -> None:
    """Build every route's request handling now, not in the first request it serves.

    FastAPI builds the routes of an included router (their dependencies and
    validators) when a request first reaches it: 40 ms here, which the first
    notebook a user opens would wait for.  A FastAPI without this lazy step has
    nothing to build, and this does nothing.
    """
    for route in app.router.routes:
        build = getattr(route, "effective_candidates", None)
        if callable(build):
            build()
