"""The app's pages and static assets are served (behind the token) with sane caching."""

from __future__ import annotations

import re

import httpx
import pytest

from adrastea.server.routers.ui import STATIC_DIR
from adrastea.testing import ServerProcess

pytestmark = pytest.mark.anyio


def test_the_built_bundle_ships_in_the_package() -> None:
    index = (STATIC_DIR / "index.html").read_text()
    assets = re.findall(r'(?:src|href|content)="/static/([^"]+)"', index)
    assert len(assets) >= 3
    for asset in assets:
        assert (STATIC_DIR / asset).is_file(), asset


async def test_first_visit_with_token_redirects_to_the_file_browser(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as browser:
        first = await browser.get("/", params={"token": server.token})
        assert first.status_code == 302
        assert first.headers["location"] == "/tree/"
        assert "adrastea-auth" in browser.cookies
        page = await browser.get("/tree/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/tree", "/tree/a/b", "/notebooks/x/y.ipynb", "/edit/run.sh"])
async def test_deep_links_serve_the_app(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert '<div id="app">' in response.text


async def test_hashed_assets_are_cached_for_long(client: httpx.AsyncClient) -> None:
    index = (await client.get("/tree/")).text
    script = re.search(r'src="(/static/app-[A-Z0-9]{8}\.js)"', index)
    assert script is not None
    response = await client.get(script.group(1))
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert "javascript" in response.headers["content-type"]


@pytest.mark.parametrize(
    "path", ["/static/nope.js", "/static/../routers/ui.py", "/static/%2e%2e/app.py"]
)
async def test_unknown_or_escaping_assets_are_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
