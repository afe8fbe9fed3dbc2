"""The server starts, reports its version and status, and stops cleanly."""

from __future__ import annotations

import httpx
import pytest

from adrastea import __version__
from adrastea.testing import ServerProcess

pytestmark = pytest.mark.anyio


async def test_api_reports_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/api")
    assert response.status_code == 200
    assert response.json() == {"version": __version__}


async def test_status_has_jupyter_fields(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/status")).json()
    assert {"started", "last_activity", "kernels", "connections"} <= body.keys()


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_ctrl_c_exits_cleanly(fresh_server: ServerProcess) -> None:
    assert fresh_server.stop() == 0
