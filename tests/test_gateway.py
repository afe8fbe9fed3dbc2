"""Interoperability: a stock Jupyter Server uses Adrastea's kernels as its gateway."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from adrastea.testing import ServerProcess

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

JUPYTER_TOKEN = "jupyter-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def jupyter_server(gateway: ServerProcess, tmp_path: Path) -> Iterator[str]:
    """A stock ``jupyter server`` with ``--gateway-url`` pointing at ``gateway``."""
    root = tmp_path / "jupyter-root"
    root.mkdir()
    port = free_port()
    args = [
        sys.executable, "-m", "jupyter", "server",
        f"--gateway-url={gateway.url}",
        f"--GatewayClient.auth_token={gateway.token}",
        f"--IdentityProvider.token={JUPYTER_TOKEN}",
        "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log_path = tmp_path / "jupyter.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(log_path.read_text(errors="replace"))  # shown when the test fails


async def wait_ready(client: httpx.AsyncClient) -> None:
    with anyio.fail_after(60):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/api/status")).status_code == 200:
                    return
            await anyio.sleep(0.1)


def execute_request(code: str) -> str:
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "session": uuid.uuid4().hex,
        "username": "test",
        "date": "2024-01-01T00:00:00.000000Z",
        "version": "5.3",
    }
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    return json.dumps(
        {
            "header": header,
            "parent_header": {},
            "metadata": {},
            "content": {**content, "allow_stdin": False, "stop_on_error": True},
            "channel": "shell",
        }
    )


async def test_jupyter_server_runs_code_on_adrastea_kernels(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    headers = {"Authorization": f"token {JUPYTER_TOKEN}"}
    with ServerProcess(root) as adrastea, jupyter_server(adrastea, tmp_path) as url:
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as jupyter,
            httpx.AsyncClient(base_url=adrastea.url, headers=adrastea.headers, timeout=60) as ours,
        ):
            await wait_ready(jupyter)

            specs = (await jupyter.get("/api/kernelspecs")).json()
            assert set(specs["kernelspecs"]) == set(
                (await ours.get("/api/kernelspecs")).json()["kernelspecs"]
            )

            started = await jupyter.post("/api/kernels", json={"name": "python3"})
            assert started.status_code == 201, started.text
            kernel_id = started.json()["id"]
            assert kernel_id in {k["id"] for k in (await ours.get("/api/kernels")).json()}

            ws_url = url.replace("http", "ws", 1)
            ws_url += f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
            message = execute_request("print(6*7)")
            msg_id = json.loads(message)["header"]["msg_id"]
            output = ""
            async with connect(ws_url, additional_headers=headers, open_timeout=60) as ws:
                await ws.send(message)
                with anyio.fail_after(60):
                    while True:
                        msg = json.loads(await ws.recv())
                        if msg["parent_header"].get("msg_id") != msg_id:
                            continue
                        if msg["msg_type"] == "stream":
                            output += msg["content"]["text"]
                        if msg["msg_type"] == "status" and (
                            msg["content"]["execution_state"] == "idle"
                        ):
                            break
            assert output == "42\n"

            assert (await jupyter.delete(f"/api/kernels/{kernel_id}")).status_code == 204
            assert (await ours.get(f"/api/kernels/{kernel_id}")).status_code == 404
