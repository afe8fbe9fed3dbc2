"""Fixtures for the Slurm tests: the dev cluster, kernelspecs that use the provisioner.

``slurm_cluster`` starts ``scripts/slurm-dev-cluster`` (a no-op when it is up)
and puts its ``SLURM_CONF`` into ``os.environ``; without Slurm the tests skip,
or fail under ``CI=true``.  ``anyio_backend`` is module-scoped here so that a
module's kernels can live across its tests (one event loop per module).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import missing
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-dev-cluster"

#: Every test kernel gets a time limit, so that a leaked one frees the node.
SAFETY_TIME = "10"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """The dev cluster, started if needed; returns (and exports) its SLURM_CONF."""
    try:
        started = subprocess.run(
            [str(SCRIPT), "start"], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        missing(f"cannot run {SCRIPT.name}: {exc}")
    if started.returncode != 0:
        missing(f"the Slurm dev cluster did not start: {started.stderr.strip()[-500:]}")
    env = subprocess.run([str(SCRIPT), "env"], capture_output=True, text=True, check=True)
    conf = env.stdout.strip().removeprefix("export SLURM_CONF=")
    os.environ["SLURM_CONF"] = conf
    return conf


@pytest.fixture(scope="session")
def kernelspecs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """A factory ``kernelspec(name, argv=None, env=None, **config) -> name``.

    Writes an ipykernel kernelspec using the ``adrastea-slurm`` provisioner into
    a temporary folder on ``JUPYTER_PATH``; its job files go to a temporary
    jobs folder (``jobs_dir``) unless the config says otherwise.
    """
    root = tmp_path_factory.mktemp("jupyter")
    jobs = tmp_path_factory.mktemp("jobs")

    def kernelspec(
        name: str,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        **config: Any,
    ) -> str:
        folder = root / "kernels" / name
        folder.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": argv or ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"{name} (Slurm)",
            "language": "python",
            "env": env or {},
            "metadata": {
                "kernel_provisioner": {
                    "provisioner_name": "adrastea-slurm",
                    "config": {"jobs_dir": str(jobs / name), "time": SAFETY_TIME, **config},
                }
            },
        }
        (folder / "kernel.json").write_text(json.dumps(spec))
        return name

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root), prepend=os.pathsep)
        yield kernelspec


@pytest.fixture
async def start_kernel(
    slurm_cluster: str,
) -> AsyncIterator[Callable[[str], Any]]:
    """``await start_kernel(name) -> (manager, client)``; all shut down at teardown."""
    started: list[tuple[AsyncKernelManager, AsyncKernelClient]] = []

    async def start(name: str) -> tuple[AsyncKernelManager, AsyncKernelClient]:
        km, kc = await launch(name)
        started.append((km, kc))
        return km, kc

    yield start
    async with anyio.create_task_group() as tg:
        for km, kc in started:
            tg.start_soon(stop, km, kc)


async def launch(name: str) -> tuple[AsyncKernelManager, AsyncKernelClient]:
    """Start a kernel of kernelspec ``name`` and a client that got its kernel_info reply."""
    km = AsyncKernelManager(kernel_name=name)
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    return km, kc


async def stop(km: AsyncKernelManager, kc: AsyncKernelClient) -> None:
    kc.stop_channels()
    if km.has_kernel:
        await km.shutdown_kernel(now=True)
