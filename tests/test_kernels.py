"""/api/kernels and the kernel WebSocket, against real kernels over real HTTP and WS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from kernels.wsclient import KernelWS, poll_until, wait_until_gone
from websockets.exceptions import ConnectionClosed, InvalidStatus

from adrastea.testing import ServerProcess

SLEEP_30 = "import time; print('sleeping', flush=True); time.sleep(30)"

pytestmark = pytest.mark.anyio


async def start(client: httpx.AsyncClient, name: str = "python3") -> dict[str, object]:
    response = await client.post("/api/kernels", json={"name": name})
    assert response.status_code == 201, response.text
    model: dict[str, object] = response.json()
    return model


@pytest.fixture
async def kernel(client: httpx.AsyncClient) -> AsyncIterator[str]:
    """A python3 kernel of the module's server, shut down afterwards."""
    kernel_id = str((await start(client))["id"])
    yield kernel_id
    await client.delete(f"/api/kernels/{kernel_id}")


async def pid_of(ws: KernelWS) -> int:
    return int((await ws.execute("import os; print(os.getpid())")).stdout)


async def state_of(client: httpx.AsyncClient, kernel_id: str) -> str:
    return str((await client.get(f"/api/kernels/{kernel_id}")).json()["execution_state"])


async def wait_state(client: httpx.AsyncClient, kernel_id: str, state: str) -> None:
    async def reached() -> bool:
        return await state_of(client, kernel_id) == state

    await poll_until(reached)


@pytest.mark.slow
async def test_start_list_get_delete(client: httpx.AsyncClient, server: ServerProcess) -> None:
    response = await client.post("/api/kernels", json={"name": "python3"})
    assert response.status_code == 201
    model = response.json()
    assert set(model) >= {"id", "name", "last_activity", "execution_state", "connections"}
    assert model["name"] == "python3"
    assert model["connections"] == 0
    assert model["last_activity"].endswith("Z")
    kernel_id = model["id"]
    assert response.headers["location"] == f"/api/kernels/{kernel_id}"

    assert kernel_id in [k["id"] for k in (await client.get("/api/kernels")).json()]
    assert (await client.get(f"/api/kernels/{kernel_id}")).json()["id"] == kernel_id
    await wait_state(client, kernel_id, "idle")

    async with KernelWS.open(server, kernel_id) as ws:
        pid = await pid_of(ws)
    assert (await client.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    missing = await client.get(f"/api/kernels/{kernel_id}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "kernel-not-found"
    await wait_until_gone(pid)


@pytest.mark.slow
async def test_start_without_body_uses_default(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/kernels")
    assert response.status_code == 201
    assert response.json()["name"] == "python3"
    await client.delete(f"/api/kernels/{response.json()['id']}")


async def test_unknown_kernelspec_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/kernels", json={"name": "no-such-kernel"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "kernelspec-not-found"


async def test_bad_start_requests_are_4xx(client: httpx.AsyncClient) -> None:
    for body in [
        {"name": "../python3"},
        {"kernel_id": "not-a-uuid"},
        {"env": {"KERNEL_X": "a\u0000b"}},
    ]:
        response = await client.post("/api/kernels", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.slow
async def test_start_in_a_local_environment(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/kernels")).json()
    bad = await client.post("/api/kernels", json={"environment": "python3", "choices": {"cpus": 2}})
    assert bad.status_code == 422
    assert bad.json()["field"] == "cpus" and "not a choice of 'python3'" in bad.json()["detail"]
    assert (await client.get("/api/kernels")).json() == before  # nothing started

    response = await client.post("/api/kernels", json={"environment": "python3"})
    assert response.status_code == 201
    model = response.json()
    assert model["name"] == "python3"
    assert model["environment"] == {"name": "python3", "choices": {}}
    assert model["job_id"] is None
    await client.delete(f"/api/kernels/{model['id']}")


async def test_unknown_kernel_is_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/kernels/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/api/kernels/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/kernels/00000000-0000-0000-0000-000000000000/interrupt"),
        ("POST", "/api/kernels/00000000-0000-0000-0000-000000000000/restart"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "kernel-not-found"


async def test_websocket_to_unknown_kernel_is_refused(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with KernelWS.open(server, "00000000-0000-0000-0000-000000000000"):
            pass
    assert caught.value.response.status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize("v1", [False, True], ids=["legacy", "v1"])
async def test_execute_over_both_protocols(server: ServerProcess, kernel: str, v1: bool) -> None:
    async with KernelWS.open(server, kernel, v1=v1) as ws:
        assert ws.ws.subprotocol == ("v1.kernel.websocket.jupyter.org" if v1 else None)
        info = await ws.kernel_info()
        assert info["content"]["implementation"] == "ipython"
        done = await ws.execute("print(6*7)")
        assert done.status == "ok"
        assert done.stdout == "42\n"
        types = [m["header"]["msg_type"] for m in done.messages]
        assert types[0] == "status" and "execute_input" in types


@pytest.mark.slow
async def test_bash_kernel_runs_code(client: httpx.AsyncClient, server: ServerProcess) -> None:
    kernel_id = str((await start(client, "bash"))["id"])
    try:
        async with KernelWS.open(server, kernel_id) as ws:
            done = await ws.execute("echo $((6*7))")
            assert done.status == "ok"
            assert done.stdout.strip() == "42"
    finally:
        await client.delete(f"/api/kernels/{kernel_id}")


@pytest.mark.slow
async def test_two_clients_share_iopub_but_not_replies(server: ServerProcess, kernel: str) -> None:
    async with KernelWS.open(server, kernel) as a, KernelWS.open(server, kernel, v1=True) as b:
        await b.kernel_info()  # b is connected and its nudge is over
        msg_id = await a.start_execute("print('hello from a')")
        done = await a.finish_execute(msg_id)
        assert done.stdout == "hello from a\n"
        # b sees the output and the idle status, but never a's execute_reply.
        with anyio.fail_after(30):
            while True:
                msg = await b.recv()
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                assert msg["channel"] == "iopub", msg["header"]["msg_type"]
                if msg["header"]["msg_type"] == "status" and (
                    msg["content"]["execution_state"] == "idle"
                ):
                    break
        b_text = [
            m["content"]["text"]
            for m in b.seen
            if m["header"]["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id
        ]
        assert b_text == ["hello from a\n"]


@pytest.mark.slow
async def test_interrupt_keeps_kernel_alive(
    client: httpx.AsyncClient, server: ServerProcess, kernel: str
) -> None:
    async with KernelWS.open(server, kernel) as ws:
        pid = await pid_of(ws)
        msg_id = await ws.start_execute(SLEEP_30)
        # Interrupt once the cell runs: earlier, the kernel ignores SIGINT.
        await ws.wait_for("stream", text="sleeping\n")
        await wait_state(client, kernel, "busy")
        response = await client.post(f"/api/kernels/{kernel}/interrupt")
        assert response.status_code == 204
        done = await ws.finish_execute(msg_id, within=20)
        assert done.status == "error"
        assert done.reply["content"]["ename"] == "KeyboardInterrupt"
        assert await pid_of(ws) == pid
    await wait_state(client, kernel, "idle")


@pytest.mark.slow
async def test_restart_gives_fresh_process_same_id(
    client: httpx.AsyncClient, server: ServerProcess, kernel: str
) -> None:
    async with KernelWS.open(server, kernel) as ws:
        await ws.execute("x = 1")
        pid = await pid_of(ws)
        response = await client.post(f"/api/kernels/{kernel}/restart")
        assert response.status_code == 200
        assert response.json()["id"] == kernel
        assert response.json()["execution_state"] == "idle"
        # The same WebSocket keeps working with the new process.
        done = await ws.execute("print('x' in dir())")
        assert done.stdout == "False\n"
        assert await pid_of(ws) != pid
    await wait_until_gone(pid)


@pytest.mark.slow
async def test_state_and_connections_are_tracked(
    client: httpx.AsyncClient, server: ServerProcess, kernel: str
) -> None:
    before = (await client.get(f"/api/kernels/{kernel}")).json()
    async with KernelWS.open(server, kernel) as ws:
        await ws.kernel_info()
        model = (await client.get(f"/api/kernels/{kernel}")).json()
        assert model["connections"] == 1
        assert (await client.get("/api/status")).json()["connections"] >= 1
        msg_id = await ws.start_execute("import time; time.sleep(1)")
        await ws.wait_for("execute_input")
        await wait_state(client, kernel, "busy")
        await ws.finish_execute(msg_id)
        await wait_state(client, kernel, "idle")
    after = (await client.get(f"/api/kernels/{kernel}")).json()
    assert after["last_activity"] > before["last_activity"]

    async def detached() -> bool:
        return (await client.get(f"/api/kernels/{kernel}")).json()["connections"] == 0

    await poll_until(detached)


@pytest.mark.slow
async def test_stdin_goes_to_the_requesting_client(server: ServerProcess, kernel: str) -> None:
    async with KernelWS.open(server, kernel) as ws, KernelWS.open(server, kernel) as other:
        await other.kernel_info()
        msg_id = await ws.start_execute("print('got', input('name? '))", allow_stdin=True)
        request = await ws.wait_for("input_request")
        assert request["channel"] == "stdin"
        assert request["content"]["prompt"] == "name? "
        await ws.send("input_reply", {"value": "adrastea"}, channel="stdin")
        done = await ws.finish_execute(msg_id)
        assert done.stdout == "got adrastea\n"
    assert not any(m["header"]["msg_type"] == "input_request" for m in other.seen)


@pytest.mark.slow
async def test_delete_closes_attached_websockets(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    kernel_id = str((await start(client))["id"])
    async with KernelWS.open(server, kernel_id) as ws:
        pid = await pid_of(ws)
        assert (await client.delete(f"/api/kernels/{kernel_id}")).status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    await wait_until_gone(pid)


@pytest.mark.slow
async def test_reconnect_with_same_session_id_replaces_the_stale_connection(
    client: httpx.AsyncClient, server: ServerProcess, kernel: str
) -> None:
    async with KernelWS.open(server, kernel, session_id="same") as stale:
        await stale.kernel_info()
        async with KernelWS.open(server, kernel, session_id="same") as fresh:
            with pytest.raises(ConnectionClosed):
                while True:
                    await stale.recv()
            assert (await fresh.execute("print(1)")).stdout == "1\n"
            model = (await client.get(f"/api/kernels/{kernel}")).json()
            assert model["connections"] == 1


@pytest.mark.slow
async def test_a_requests_only_channel_gets_replies_but_no_outputs(
    server: ServerProcess, kernel: str
) -> None:
    # How the browser asks for completions: a big print running in the notebook
    # must not be sent to that connection.
    async with (
        KernelWS.open(server, kernel) as watcher,
        KernelWS.open(server, kernel, iopub=False) as requests,
    ):
        await watcher.kernel_info()
        await requests.kernel_info()
        msg_id = await requests.start_execute("print('x' * 100_000)")
        while True:  # the idle of that very execute_request, seen by the other client
            status = await watcher.wait_for("status", execution_state="idle")
            if status["parent_header"].get("msg_id") == msg_id:
                break
        reply = await requests.request("complete_request", {"code": "pri", "cursor_pos": 3})
        assert "print" in reply["content"]["matches"]
        replies = [m for m in requests.seen if m["parent_header"].get("msg_id") == msg_id]
        assert [m["channel"] for m in replies] == ["shell"]  # the execute_reply only
        assert not [m for m in requests.seen if m["channel"] == "iopub"]
