"""Notebooks whose kernel runs in a Slurm job: the walltime ends it, a server restart does not.

The 1-minute job of the walltime test ends TIMEOUT 70-90 s after it starts
(Slurm checks limits about every 30 s), so a module fixture starts it first
and the restart test runs meanwhile; the walltime test comes last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adrastea.testing import ServerProcess
from tests.notebooks.conftest import finished, saved_stream_text, until, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.slurm, pytest.mark.slow]

CONFIG = """
[server]
state_dir = "{state}"

[[environments]]
name = "debug"
kernelspec = "python3"
placement = "slurm"
[environments.slurm]
partition = "debug"
time = {{ default = "00:10:00", choices = ["00:01:00", "00:10:00"] }}
"""

LONG_CELL = "import time\nprint('working', flush=True)\ntime.sleep(600)\nprint('never')"


def make_server(folder: Path) -> ServerProcess:
    """A server on ``folder/root`` with its state in ``folder/state`` (not under the root)."""
    (folder / "root").mkdir(exist_ok=True)
    config = folder / "adrastea.toml"
    config.write_text(CONFIG.format(state=folder / "state"))
    return ServerProcess(folder / "root", "--config", str(config))


def client_of(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=120)


async def status_of(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get(f"/api/notebooks/{path}/status")).json()
    return result


async def cell_text(client: httpx.AsyncClient, path: str, index: int = 0) -> str:
    """The stream text of cell ``index`` in the live document (as every client sees it)."""
    nb = (await client.get(f"/api/contents/{path}")).json()["content"]
    return "".join(o.get("text", "") for o in nb["cells"][index]["outputs"])


@pytest.fixture(scope="module")
def timeout_server(
    slurm_cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with make_server(tmp_path_factory.mktemp("walltime")) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
async def long_cell_in_a_one_minute_job(timeout_server: ServerProcess) -> AsyncIterator[str]:
    """Starts, before every test here, a long cell in a job with a 1-minute limit."""
    write_notebook(timeout_server.root, "long.ipynb", LONG_CELL)
    async with client_of(timeout_server) as client:
        url = "/api/notebooks/long.ipynb/environment"
        one_minute = {"environment": "debug", "choices": {"time": "00:01:00"}}
        moved = await client.put(url, json=one_minute)
        assert moved.status_code == 200, moved.text
        assert moved.json()["job"]["time_limit"] == 60
        queued = await client.post("/api/notebooks/long.ipynb/execute", json={"cells": "all"})
        assert queued.status_code == 202
        yield moved.json()["job"]["job_id"]


async def test_a_server_restart_readopts_the_slurm_kernel_and_its_variables(
    slurm_cluster: str, tmp_path: Path
) -> None:
    first = make_server(tmp_path)
    ids = write_notebook(
        first.root,
        "keep.ipynb",
        "import os\nsecret = 'still here'\nprint(os.environ['SLURM_JOB_ID'])",
        "print(secret, os.environ['SLURM_JOB_ID'])",
    )
    first.start()
    try:
        async with client_of(first) as client:
            url = "/api/notebooks/keep.ipynb/environment"
            moved = await client.put(url, json={"environment": "debug"})
            assert moved.status_code == 200, moved.text
            job_id, kernel_id = moved.json()["job"]["job_id"], moved.json()["kernel"]["id"]
            await client.post("/api/notebooks/keep.ipynb/execute", json={"cells": ids[:1]})
            await finished(client, "keep.ipynb", 1)
            assert await cell_text(client, "keep.ipynb") == f"{job_id}\n"
        # The server dies (kill -9): its kernels, here a Slurm job, live on.
        first.kill()
    finally:
        first.kill()

    with make_server(tmp_path) as second:
        async with client_of(second) as client:
            status = await status_of(client, "keep.ipynb")
            assert status["kernel"]["id"] == kernel_id  # re-adopted, not restarted
            assert status["kernel"]["job_id"] == job_id
            assert status["job"]["job_id"] == job_id and status["job"]["state"] == "RUNNING"
            assert status["environment"]["name"] == "debug"
            await client.post("/api/notebooks/keep.ipynb/execute", json={"cells": ids[1:]})
            await finished(client, "keep.ipynb", 1)
            assert await cell_text(client, "keep.ipynb", 1) == f"still here {job_id}\n"
            await client.delete("/api/notebooks/keep.ipynb/kernel")


async def test_walltime_timeout_ends_the_running_cell_and_says_why(
    timeout_server: ServerProcess, long_cell_in_a_one_minute_job: str
) -> None:
    """Last: the job started with the module ends TIMEOUT mid-cell (70-90 s in)."""
    job_id = long_cell_in_a_one_minute_job
    async with client_of(timeout_server) as client:
        died = "Adrastea: the kernel died: "

        async def cell_ended() -> str | None:
            text = await cell_text(client, "long.ipynb")
            return text if died in text else None

        text = await until(cell_ended, within=180)
        assert text.startswith("working\n")  # what it printed before is kept
        assert f"{died}Slurm job {job_id} TIMEOUT" in text
        status = await status_of(client, "long.ipynb")
        assert status["running"] is None
        assert status["kernel"]["execution_state"] == "dead"
        assert "TIMEOUT" in status["kernel"]["reason"]
        assert status["job"]["job_id"] == job_id and status["job"]["state"] == "TIMEOUT"

        # The file on disk says so too (autosave).
        async def saved() -> bool:
            on_disk = saved_stream_text(timeout_server.root / "long.ipynb", 0)
            return f"Slurm job {job_id} TIMEOUT" in on_disk

        await until(saved, within=30)
