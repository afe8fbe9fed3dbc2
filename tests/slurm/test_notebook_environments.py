"""A kernel is a place: a notebook moves between local and Slurm environments."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adrastea.testing import ServerProcess
from tests.notebooks.conftest import finished, write_notebook
from tests.slurm.configs import DEBUG_ENVIRONMENT

pytestmark = [pytest.mark.anyio, pytest.mark.slurm, pytest.mark.slow]

CONFIG = DEBUG_ENVIRONMENT


async def test_restart_in_slurm_and_back(tmp_path: Path, slurm_cluster: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    config = tmp_path / "adrastea.toml"
    config.write_text(CONFIG)
    ids = write_notebook(root, "where.ipynb", "import os\nprint(os.environ.get('SLURM_JOB_ID'))")
    with ServerProcess(root, "--config", str(config)) as server:
        async with httpx.AsyncClient(
            base_url=server.url, headers=server.headers, timeout=120
        ) as client:
            envs = {e["name"]: e for e in (await client.get("/api/environments")).json()}
            assert envs["debug"]["placement"] == "slurm"
            assert envs["debug"]["schema"]["properties"]["cpus"]["maximum"] == 4
            assert "python3" in envs  # the local one is still offered

            url = "/api/notebooks/where.ipynb/environment"
            bad = await client.put(url, json={"environment": "debug", "choices": {"cpus": 64}})
            assert bad.status_code == 422
            assert bad.json()["field"] == "cpus" and "maximum 4" in bad.json()["detail"]

            moved = await client.put(url, json={"environment": "debug", "choices": {"cpus": 2}})
            assert moved.status_code == 200, moved.text
            status = moved.json()
            job_id = status["job"]["job_id"]
            assert status["environment"] == {
                "name": "debug",
                "choices": {"partition": "debug", "time": "00:10:00", "cpus": 2},
            }

            await client.post("/api/notebooks/where.ipynb/execute", json={"cells": ids})
            await finished(client, "where.ipynb", 1)
            nb = (await client.get("/api/contents/where.ipynb")).json()["content"]
            assert nb["cells"][0]["outputs"], (
                await client.get("/api/notebooks/where.ipynb/status")
            ).json()
            assert nb["cells"][0]["outputs"][0]["text"] == f"{job_id}\n"
            assert nb["metadata"]["adrastea"]["environment"]["name"] == "debug"
            running = (await client.get("/api/notebooks/where.ipynb/status")).json()["job"]
            assert running["state"] == "RUNNING" and running["node"]
            assert running["time_left"] is not None and running["time_left"] <= 600
            listed = (await client.get("/api/kernelspecs")).json()["kernelspecs"]
            assert not [name for name in listed if "--" in name], listed  # environments hidden

            back = await client.put(url, json={"environment": "python3"})
            assert back.status_code == 200 and back.json()["job"] is None
            await client.post("/api/notebooks/where.ipynb/execute", json={"cells": ids})
            await finished(client, "where.ipynb", 1)  # a new kernel, a new count
            nb = (await client.get("/api/contents/where.ipynb")).json()["content"]
            assert nb["cells"][0]["outputs"][0]["text"] == "None\n"
