"""Every route refuses requests without the token; cookies need XSRF for writes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import websockets
from starlette.routing import Route, WebSocketRoute

from adrastea.server.app import ROUTERS
from adrastea.testing import ServerProcess

pytestmark = pytest.mark.anyio


def _routes() -> list[tuple[str, str]]:
    """(method, concrete path) for every HTTP route of the app; WS routes as 'WS'."""
    found: list[tuple[str, str]] = []
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, Route | WebSocketRoute):
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        if isinstance(route, WebSocketRoute):
            found.append(("WS", path))
        else:
            found.extend((m, path) for m in sorted(route.methods or ()) if m != "HEAD")
    return found


ROUTES = _routes()


def test_the_app_has_routes_to_check() -> None:
    assert len(ROUTES) >= 3


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_no_token_gets_403(server: ServerProcess, method: str, path: str) -> None:
    if method == "WS":
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(server.ws_url(path)):
                pass
        assert info.value.response.status_code == 403
        return
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        response = await anonymous.request(method, path, headers={"Authorization": "token bad"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "forbidden"


async def test_query_token_sets_cookie_then_cookie_works(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as browser:
        first = await browser.get("/api/status", params={"token": server.token})
        assert first.status_code == 200
        assert "adrastea-auth" in browser.cookies
        assert "_xsrf" in browser.cookies
        assert (await browser.get("/api/status")).status_code == 200


async def test_cookie_writes_need_xsrf_header(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as browser:
        await browser.get("/api", params={"token": server.token})
        refused = await browser.post("/api/contents/", json={"type": "directory"})
        assert refused.status_code == 403
        assert "XSRF" in refused.json()["detail"]
        allowed = await browser.post(
            "/api/contents/",
            json={"type": "directory"},
            headers={"X-XSRFToken": browser.cookies["_xsrf"]},
        )
        assert allowed.status_code != 403


async def test_header_token_is_accepted(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/status")).status_code == 200


async def test_wrong_token_in_query_is_refused(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        response = await anonymous.get("/api/status", params={"token": "nope"})
    assert response.status_code == 403


@pytest.mark.slow
def test_generated_token_is_printed(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, token="")
    # An empty --token means "generate one"; the printed URL carries it.
    with proc:
        assert re.search(r"\?token=[0-9a-f]{48}", "".join(proc.output))
