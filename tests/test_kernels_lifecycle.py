"""Kernels across server lifetimes: re-adoption after kill -9, Ctrl-C, culling, auto-restart."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from kernels.wsclient import KernelWS, poll_until, process_alive, wait_until_gone

from adrastea.testing import ServerProcess

SLEEP_30 = "import time; print('sleeping', flush=True); time.sleep(30)"

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@contextlib.asynccontextmanager
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as c:
        yield c


async def start_kernel(client: httpx.AsyncClient, name: str = "python3") -> str:
    response = await client.post("/api/kernels", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def pid_of(ws: KernelWS) -> int:
    return int((await ws.execute("import os; print(os.getpid())")).stdout)


def children_of(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (the kernels a server launched)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def test_kernel_survives_kill_9_and_is_readopted(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    pid = 0
    first = ServerProcess(root).start()
    try:
        async with http(first) as client:
            kernel_id = await start_kernel(client)
            async with KernelWS.open(first, kernel_id) as ws:
                await ws.execute("x = 41")
                pid = await pid_of(ws)
        first.kill()
        assert process_alive(pid), "the kernel died with its server"

        with ServerProcess(root) as second:
            async with http(second) as client:
                models = (await client.get("/api/kernels")).json()
                assert [m["id"] for m in models] == [kernel_id]
                assert models[0]["execution_state"] == "idle"
                async with KernelWS.open(second, kernel_id, v1=True) as ws:
                    done = await ws.execute("print(x + 1)")
                    assert done.stdout == "42\n"
                    assert await pid_of(ws) == pid
                    # Signals reach an adopted kernel (it is not our child).
                    msg_id = await ws.start_execute(SLEEP_30)
                    await ws.wait_for("stream", text="sleeping\n")
                    await client.post(f"/api/kernels/{kernel_id}/interrupt")
                    interrupted = await ws.finish_execute(msg_id, within=20)
                    assert interrupted.reply["content"]["ename"] == "KeyboardInterrupt"
                    # So does a restart, on the same ports.
                    restarted = await client.post(f"/api/kernels/{kernel_id}/restart")
                    assert restarted.status_code == 200
                    new_pid = await pid_of(ws)
                    assert new_pid != pid
                await wait_until_gone(pid)
                pid = new_pid
        # The second server stopped cleanly, with its kernels.
        await wait_until_gone(pid)
    finally:
        first.kill()
        if pid:
            kill_quietly(pid)


async def test_dead_recorded_kernels_are_forgotten(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    first = ServerProcess(root).start()
    pids: set[int] = set()
    try:
        async with http(first) as client:
            await start_kernel(client)
            await poll_until(lambda: bool(children_of(first.pid)))
            pids = children_of(first.pid)
        first.kill()
        for pid in pids:
            kill_quietly(pid)
            await wait_until_gone(pid)
        with ServerProcess(root) as second:
            async with http(second) as client:
                assert (await client.get("/api/kernels")).json() == []
        assert not list((root / ".adrastea" / "kernels").glob("*.json"))
    finally:
        first.kill()
        for pid in pids:
            kill_quietly(pid)


async def test_ctrl_c_shuts_kernels_down(fresh_server: ServerProcess) -> None:
    async with http(fresh_server) as client:
        for name in ("python3", "bash"):
            await start_kernel(client, name)
        await poll_until(lambda: len(children_of(fresh_server.pid)) == 2)
        pids = children_of(fresh_server.pid)
    assert fresh_server.stop() == 0
    for pid in pids:
        await wait_until_gone(pid)


async def test_idle_kernels_are_culled_unless_connected(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    culling = ("--set", "kernels.cull_idle_timeout=1", "--set", "kernels.cull_interval=0.5")
    with ServerProcess(root, *culling) as server:
        async with http(server) as client:
            lonely = await start_kernel(client)
            watched = await start_kernel(client)
            async with KernelWS.open(server, watched) as ws:
                await ws.kernel_info()

                async def culled() -> bool:
                    kernels = (await client.get("/api/kernels")).json()
                    return lonely not in {k["id"] for k in kernels}

                await poll_until(culled)
                # Idle just as long, but a client is attached.
                assert (await client.get(f"/api/kernels/{watched}")).status_code == 200


async def test_a_kernel_that_dies_is_restarted(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    kernel_id = await start_kernel(client)
    try:
        async with KernelWS.open(server, kernel_id) as ws:
            pid = await pid_of(ws)
            await ws.start_execute("import os; os._exit(1)")
            await ws.wait_for("status", execution_state="restarting")
            await wait_until_gone(pid)

            async def back() -> bool:
                model = (await client.get(f"/api/kernels/{kernel_id}")).json()
                assert model["execution_state"] != "dead", model
                return bool(model["execution_state"] == "idle")

            await poll_until(back, within=60)
            assert await pid_of(ws) != pid
    finally:
        await client.delete(f"/api/kernels/{kernel_id}")
