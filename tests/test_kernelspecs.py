"""/api/kernelspecs and /kernelspecs/{name}/{resource}: discovery the Jupyter way."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.anyio


def installed_kernelspecs() -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(json.loads(out)["kernelspecs"])


@pytest.mark.slow
async def test_lists_what_jupyter_kernelspec_list_lists(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/kernelspecs")
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == "python3"
    assert set(body["kernelspecs"]) >= installed_kernelspecs() | {"python3", "bash"}
    python = body["kernelspecs"]["python3"]
    assert python["name"] == "python3"
    assert python["spec"]["language"] == "python"
    assert "{connection_file}" in python["spec"]["argv"]
    assert python["resources"]["logo-64x64"] == "/kernelspecs/python3/logo-64x64.png"
    assert body["kernelspecs"]["bash"]["spec"]["language"] == "bash"


async def test_get_one(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/kernelspecs/bash")).json()
    assert body["name"] == "bash"
    assert set(body) == {"name", "spec", "resources"}


async def test_unknown_spec_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/kernelspecs/no-such-kernel")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "kernelspec-not-found"


async def test_serves_logo(client: httpx.AsyncClient) -> None:
    url = (await client.get("/api/kernelspecs/python3")).json()["resources"]["logo-64x64"]
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


async def test_missing_resource_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/kernelspecs/python3/no-such-logo.png")
    assert response.status_code == 404
    assert response.json()["code"] == "file-not-found"


@pytest.mark.parametrize(
    "path",
    [
        "/kernelspecs/python3/..%2Fbash%2Fkernel.json",
        "/kernelspecs/python3/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        "/kernelspecs/python3/%2Fetc%2Fpasswd",
    ],
)
async def test_refuses_paths_leaving_the_spec_folder(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.text
    assert response.headers["content-type"] == "application/problem+json"
