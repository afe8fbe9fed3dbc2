"""The Jupyter kernels and sessions APIs start kernels in an environment: a Slurm job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from kernels.wsclient import KernelWS

from adrastea.testing import ServerProcess
from tests.slurm.configs import DEBUG_ENVIRONMENT

pytestmark = [pytest.mark.anyio, pytest.mark.slurm, pytest.mark.slow]

CONFIG = DEBUG_ENVIRONMENT

WHERE = "import os; print(os.environ['SLURM_JOB_ID'], os.environ['SLURM_CPUS_PER_TASK'])"


@pytest.fixture(scope="module")
def server(slurm_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("api-environments")
    root = folder / "root"
    root.mkdir()
    (folder / "adrastea.toml").write_text(CONFIG)
    with ServerProcess(root, "--config", str(folder / "adrastea.toml")) as proc:
        yield proc


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=120) as c:
        yield c


async def where(server: ServerProcess, kernel_id: str) -> list[str]:
    """The kernel's Slurm job id and CPU count, as the kernel itself sees them."""
    async with KernelWS.open(server, kernel_id) as ws:
        await ws.kernel_info()
        done = await ws.execute(WHERE)
    return done.stdout.split()


async def kernel_ids(client: httpx.AsyncClient) -> set[str]:
    return {k["id"] for k in (await client.get("/api/kernels")).json()}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"environment": "debug", "choices": {"cpus": 64}}, 422, "cpus"),
        ({"environment": "debug", "choices": {"colour": "blue"}}, 422, "colour"),
        ({"name": "bash", "environment": "debug"}, 422, "name"),
        ({"name": "python3", "choices": {"cpus": 2}}, 422, "environment"),
        ({"environment": "tpu"}, 404, None),
        ({"environment": "debug", "choices": {"cpus": [1]}}, 400, None),
    ],
)
async def test_bad_environment_requests_start_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, field: str | None
) -> None:
    before = await kernel_ids(client)
    for url, payload in [
        ("/api/kernels", body),
        ("/api/sessions", {"path": "bad.ipynb", "type": "notebook", "kernel": body}),
    ]:
        response = await client.post(url, json=payload)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json().get("field") == field
    assert await kernel_ids(client) == before
    assert (await client.get("/api/sessions")).json() == []


async def test_kernels_api_starts_a_kernel_in_a_slurm_job(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    body = {"name": "python3", "environment": "debug", "choices": {"cpus": 2}}
    response = await client.post("/api/kernels", json=body)
    assert response.status_code == 201, response.text
    model = response.json()
    assert model["name"] == "python3--debug--" + model["name"].rsplit("--", 1)[1]
    assert model["environment"] == {
        "name": "debug",
        "choices": {"partition": "debug", "time": "00:10:00", "cpus": 2},
    }
    assert model["job_id"]
    assert await where(server, model["id"]) == [model["job_id"], "2"]
    assert (await client.get(f"/api/kernels/{model['id']}")).json()["job_id"] == model["job_id"]
    assert (await client.delete(f"/api/kernels/{model['id']}")).status_code == 204


async def test_sessions_api_starts_its_kernel_in_a_slurm_job(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    body = {
        "path": "analysis.ipynb",
        "type": "notebook",
        "kernel": {"environment": "debug", "choices": {"cpus": "3"}},
    }
    response = await client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    kernel = response.json()["kernel"]
    assert kernel["environment"]["name"] == "debug"
    assert kernel["environment"]["choices"]["cpus"] == 3
    assert await where(server, kernel["id"]) == [kernel["job_id"], "3"]

    # Moving the session to a plain local kernel ends the job's kernel.
    session_id = response.json()["id"]
    moved = await client.patch(f"/api/sessions/{session_id}", json={"kernel": {"name": "python3"}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["kernel"]["job_id"] is None
    assert moved.json()["kernel"]["environment"] is None
    assert kernel["id"] not in await kernel_ids(client)
    assert (await client.delete(f"/api/sessions/{session_id}")).status_code == 204


async def test_plain_jupyter_requests_still_start_local_kernels(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/kernels", json={"name": "python3", "unknown": 1})
    assert response.status_code == 201
    assert response.json()["job_id"] is None
    assert response.json()["environment"] is None
    await client.delete(f"/api/kernels/{response.json()['id']}")
