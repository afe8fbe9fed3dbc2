"""The server runs notebooks itself: outputs land in the document and on disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from adrastea.documents import new_ynotebook
from adrastea.testing import ServerProcess, connect_document
from tests.notebooks.conftest import finished, saved_stream_text, until, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _cell_text(notebook: Any, index: int) -> str:
    cell = notebook.get_cell(index)
    return "".join(
        o["text"] if isinstance(o["text"], str) else "".join(o["text"])
        for o in cell["outputs"]
        if o["output_type"] == "stream"
    )


async def test_outputs_arrive_with_nobody_watching(fresh_server: ServerProcess) -> None:
    root = fresh_server.root
    write_notebook(
        root,
        "long.ipynb",
        "import time\nfor i in range(200):\n    print(i, flush=True)\n    time.sleep(0.1)",
        "6 * 7",
    )
    expected = "".join(f"{i}\n" for i in range(200))
    async with httpx.AsyncClient(base_url=fresh_server.url, headers=fresh_server.headers) as c:
        response = await c.post("/api/notebooks/long.ipynb/execute", json={"cells": "all"})
        assert response.status_code == 202
        assert len(response.json()["queued"]) == 2
        status = await finished(c, "long.ipynb", 2)
        assert status["last_error"] is None
        # A client that connects only now sees every line.
        url = fresh_server.ws_url("/api/documents/long.ipynb")
        async with connect_document(url, fresh_server.headers) as doc:
            assert _cell_text(doc.notebook, 0) == expected
            result = doc.notebook.get_cell(1)
            assert result["outputs"][0]["data"]["text/plain"] == "42"
            assert result["execution_count"] == 2
        # And so does the file, saved by the server.
        await until(
            lambda: _async(saved_stream_text(root / "long.ipynb", 0) == expected), within=10
        )
        live = (await c.get("/api/contents/long.ipynb")).json()
        assert live["content"]["cells"][1]["outputs"][0]["data"]["text/plain"] == "42"


async def _async(value: Any) -> Any:
    return value


async def test_queue_stops_at_first_error_and_status_says_why(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    ids = write_notebook(server.root, "err.ipynb", "x = 1", "1/0", "x = 2")
    await client.post("/api/notebooks/err.ipynb/execute", json={"cells": "all"})
    status = await finished(client, "err.ipynb", 2)
    assert status["last_error"]["cell_id"] == ids[1]
    assert status["last_error"]["ename"] == "ZeroDivisionError"
    content = (await client.get("/api/contents/err.ipynb")).json()["content"]
    assert content["cells"][2]["execution_count"] is None


async def test_two_clients_edit_different_cells_and_converge(server: ServerProcess) -> None:
    write_notebook(server.root, "collab.ipynb", "a = 1", "b = 2")
    url = server.ws_url("/api/documents/collab.ipynb")
    async with (
        connect_document(url, server.headers) as one,
        connect_document(url, server.headers) as two,
    ):
        one.notebook.set_cell(0, source="a = 'from one'")
        two.notebook.set_cell(1, source="b = 'from two'")
        await one.flush()
        await two.flush()

        def both(nb: Any) -> bool:
            return (
                nb.get_cell(0)["source"] == "a = 'from one'"
                and nb.get_cell(1)["source"] == "b = 'from two'"
            )

        await one.wait_for(both)
        await two.wait_for(both)
    assert one.notebook.source == two.notebook.source


async def test_interrupt_and_input(client: httpx.AsyncClient, server: ServerProcess) -> None:
    write_notebook(server.root, "ask.ipynb", "name = input('who? ')\nprint('hi', name)")
    await client.post("/api/notebooks/ask.ipynb/execute", json={"cells": "all"})

    async def asked() -> Any:
        return (await client.get("/api/notebooks/ask.ipynb/status")).json()["pending_input"]

    assert await until(asked) == {"prompt": "who? ", "password": False}
    response = await client.post("/api/notebooks/ask.ipynb/input", json={"value": "ada"})
    assert response.status_code == 204
    await finished(client, "ask.ipynb", 1)
    content = (await client.get("/api/contents/ask.ipynb")).json()["content"]
    assert "hi ada" in json.dumps(content["cells"][0]["outputs"])

    (sleeper,) = write_notebook(server.root, "sleep.ipynb", "import time; time.sleep(60)")
    before = datetime.now(UTC)
    await client.post("/api/notebooks/sleep.ipynb/execute", json={"cells": "all"})

    async def running() -> Any:
        status = (await client.get("/api/notebooks/sleep.ipynb/status")).json()
        busy = status["running"] and status["kernel"]["execution_state"] == "busy"
        return status if busy else None

    status = await until(running)
    # When the cell really started on the server, so a page opened later counts from there.
    assert status["running"] == sleeper
    since = datetime.fromisoformat(status["running_since"])
    assert before <= since <= datetime.now(UTC)
    again = (await client.get("/api/notebooks/sleep.ipynb/status")).json()
    assert again["running_since"] == status["running_since"]
    assert (await client.post("/api/notebooks/sleep.ipynb/interrupt")).status_code == 204
    status = await finished(client, "sleep.ipynb", 1)
    assert status["last_error"]["ename"] == "KeyboardInterrupt"
    assert status["running_since"] is None


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("POST", "execute", {"cells": ["no-such-cell"]}, 400),
        ("POST", "execute", {"cells": "some"}, 400),
        ("POST", "execute", {"nope": 1}, 400),
        ("POST", "input", {"value": "x"}, 409),
        ("POST", "interrupt", None, 409),
        ("GET", "outputs/../../etc", None, 404),
    ],
)
async def test_bad_requests_change_nothing(
    client: httpx.AsyncClient,
    server: ServerProcess,
    method: str,
    suffix: str,
    body: Any,
    status: int,
) -> None:
    write_notebook(server.root, "still.ipynb", "print('x')")
    before = (server.root / "still.ipynb").read_bytes()
    response = await client.request(method, f"/api/notebooks/still.ipynb/{suffix}", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert (server.root / "still.ipynb").read_bytes() == before


@pytest.mark.parametrize("path", ["../outside.ipynb", "missing.ipynb", "notes.txt"])
async def test_bad_notebook_paths_are_refused(
    client: httpx.AsyncClient, server: ServerProcess, path: str
) -> None:
    (server.root / "notes.txt").write_text("not a notebook")
    response = await client.post(f"/api/notebooks/{path}/execute", json={"cells": "all"})
    assert 400 <= response.status_code < 500
    assert not (Path(server.root).parent / "outside.ipynb").exists()


async def test_restart_in_another_environment_records_its_kernelspec(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    ids = write_notebook(server.root, "move.ipynb", "echo $0")
    url = "/api/notebooks/move.ipynb/environment"
    moved = await client.put(url, json={"environment": "bash", "choices": {}})
    assert moved.status_code == 200, moved.text
    await client.post("/api/notebooks/move.ipynb/execute", json={"cells": ids})
    await finished(client, "move.ipynb", 1)
    # Clients (and Jupyter, once saved) see the new kernel's language, not the old one's.
    metadata = (await client.get("/api/contents/move.ipynb")).json()["content"]["metadata"]
    assert metadata["kernelspec"]["name"] == "bash"
    assert metadata["kernelspec"]["language"] == "bash"
    assert metadata["language_info"]["name"] == "bash"
    assert metadata["adrastea"]["environment"]["name"] == "bash"


async def test_execute_in_an_environment_moves_the_kernel_once(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    write_notebook(server.root, "place.ipynb", "echo here $((6*7))")
    url = "/api/notebooks/place.ipynb"
    refused = await client.post(f"{url}/execute", json={"cells": "all", "environment": "nowhere"})
    assert refused.status_code == 404
    assert (await client.get(f"{url}/status")).json()["kernel"] is None  # nothing started

    run = {"cells": "all", "environment": "bash"}
    assert (await client.post(f"{url}/execute", json=run)).status_code == 202
    status = await finished(client, "place.ipynb", 1)
    assert status["environment"]["name"] == "bash"
    content = (await client.get("/api/contents/place.ipynb")).json()["content"]
    assert "here 42" in json.dumps(content["cells"][0]["outputs"])
    assert content["metadata"]["kernelspec"]["name"] == "bash"

    kernel = status["kernel"]["id"]
    assert (await client.post(f"{url}/execute", json=run)).status_code == 202
    again = await finished(client, "place.ipynb", 2)
    assert again["kernel"]["id"] == kernel  # already there: not restarted


async def _sync_messages(ws: Any) -> Any:
    """The y-websocket SYNC messages from ``ws`` as (kind, payload), awareness skipped."""
    from pycrdt import Decoder

    async for message in ws:
        if message[0] == 0:  # SYNC
            yield message[1], Decoder(message[2:]).read_message()


async def test_a_new_tab_gets_the_document_unasked_and_a_reconnect_only_the_news(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    write_notebook(server.root, "tabs.ipynb", "a = 1", "b = 'x' * 20_000")
    url = server.ws_url("/api/documents/tabs.ipynb")
    replica = new_ynotebook()
    with anyio.fail_after(30):
        await _new_tab_then_reconnect(client, url, server.headers, replica)


async def _new_tab_then_reconnect(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], replica: Any
) -> None:
    from pycrdt import Doc, create_sync_message
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers=headers, max_size=None) as ws:
        messages = _sync_messages(ws)
        assert (await anext(messages))[0] == 0  # the server's SYNC_STEP1
        kind, whole = await anext(messages)  # ...then, before we asked, the document
        assert kind == 1
        replica.ydoc.apply_update(whole)
        assert replica.get_cell(1)["source"] == "b = 'x' * 20_000"
        await ws.send(create_sync_message(Doc()))  # our SYNC_STEP1, from nothing
        kind, news = await anext(messages)
        assert kind == 1 and len(news) < 100 < len(whole)  # not the document again

    status = (await client.get("/api/notebooks/tabs.ipynb/status")).json()
    again = f"{url}?session={status['session_id']}"
    async with connect(again, additional_headers=headers, max_size=None) as ws:
        messages = _sync_messages(ws)
        assert (await anext(messages))[0] == 0
        await ws.send(create_sync_message(replica.ydoc))
        kind, news = await anext(messages)  # the reply to our state: nothing unasked first
        assert kind == 1 and len(news) < 100
