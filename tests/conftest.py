"""Shared fixtures: a real ``adrastea serve`` process and HTTP clients to it."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from adrastea.testing import ServerProcess

# Keep jupyter_core quiet and out of the user's real folders.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip locally when a real component is missing; fail under CI=true."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, serving a fresh temporary folder."""
    root = tmp_path_factory.mktemp("root")
    with ServerProcess(root) as proc:
        yield proc


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real server of its own for one test."""
    root = tmp_path / "root"
    root.mkdir()
    with ServerProcess(root) as proc:
        yield proc


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated HTTP client for ``server``."""
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as c:
        yield c


@pytest.fixture
def here(server: ServerProcess, request: pytest.FixtureRequest) -> Path:
    """A fresh folder under ``server``'s root, named after the test."""
    folder = server.root / re.sub(r"\W", "_", request.node.name)
    folder.mkdir()
    return folder
