"""/api/sessions: Jupyter Server's session lifecycle over real HTTP, with real kernels."""

from __future__ import annotations

import httpx
import pytest
from kernels.wsclient import KernelWS

from adrastea.testing import ServerProcess

pytestmark = pytest.mark.anyio


async def kernel_ids(client: httpx.AsyncClient) -> set[str]:
    return {k["id"] for k in (await client.get("/api/kernels")).json()}


@pytest.mark.slow
async def test_session_lifecycle(client: httpx.AsyncClient, server: ServerProcess) -> None:
    (server.root / "work").mkdir()
    body = {
        "path": "work/a.ipynb",
        "name": "a.ipynb",
        "type": "notebook",
        "kernel": {"name": "python3"},
    }
    response = await client.post("/api/sessions", json=body)
    assert response.status_code == 201
    session = response.json()
    assert response.headers["location"] == f"/api/sessions/{session['id']}"
    assert session["path"] == "work/a.ipynb"
    assert session["name"] == "a.ipynb"
    assert session["type"] == "notebook"
    assert session["notebook"] == {"path": "work/a.ipynb", "name": "a.ipynb"}
    kernel = session["kernel"]
    assert kernel["name"] == "python3"
    assert kernel["id"] in await kernel_ids(client)

    # The same path again gives the same session.
    again = await client.post("/api/sessions", json=body)
    assert again.json()["id"] == session["id"]

    listed = (await client.get("/api/sessions")).json()
    assert [s["id"] for s in listed] == [session["id"]]
    assert (await client.get(f"/api/sessions/{session['id']}")).json() == listed[0]

    # The kernel runs in the notebook's folder and knows its notebook.
    async with KernelWS.open(server, kernel["id"]) as ws:
        done = await ws.execute(
            "import os; print(os.getcwd()); print(os.environ['JPY_SESSION_NAME'])"
        )
    cwd, session_name = done.stdout.split()
    assert cwd == str((server.root / "work").resolve())
    assert session_name == str((server.root / "work" / "a.ipynb").resolve())

    # Rename.
    patched = await client.patch(
        f"/api/sessions/{session['id']}", json={"path": "work/b.ipynb", "name": "b.ipynb"}
    )
    assert patched.status_code == 200
    assert patched.json()["path"] == "work/b.ipynb"
    assert patched.json()["kernel"]["id"] == kernel["id"]

    # Delete: the kernel goes with it.
    assert (await client.delete(f"/api/sessions/{session['id']}")).status_code == 204
    assert (await client.get(f"/api/sessions/{session['id']}")).status_code == 404
    assert kernel["id"] not in await kernel_ids(client)


@pytest.mark.slow
async def test_change_kernel_shuts_the_old_one_down(client: httpx.AsyncClient) -> None:
    body = {"path": "c.ipynb", "name": "c.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    session = (await client.post("/api/sessions", json=body)).json()
    old = session["kernel"]["id"]

    patched = await client.patch(
        f"/api/sessions/{session['id']}", json={"kernel": {"name": "bash"}}
    )
    assert patched.status_code == 200
    new = patched.json()["kernel"]
    assert new["name"] == "bash" and new["id"] != old
    assert old not in await kernel_ids(client)

    # Switch to an existing kernel by id; the bash one is shut down.
    other = (await client.post("/api/kernels", json={"name": "python3"})).json()["id"]
    patched = await client.patch(f"/api/sessions/{session['id']}", json={"kernel": {"id": other}})
    assert patched.json()["kernel"]["id"] == other
    assert new["id"] not in await kernel_ids(client)

    await client.delete(f"/api/sessions/{session['id']}")
    assert other not in await kernel_ids(client)


@pytest.mark.slow
async def test_session_on_existing_kernel(client: httpx.AsyncClient) -> None:
    kernel_id = (await client.post("/api/kernels", json={"name": "python3"})).json()["id"]
    body = {"path": "console-1", "name": "", "type": "console", "kernel": {"id": kernel_id}}
    session = (await client.post("/api/sessions", json=body)).json()
    assert session["kernel"]["id"] == kernel_id
    assert session.get("notebook") is None
    # A session whose kernel is shut down elsewhere disappears.
    await client.delete(f"/api/kernels/{kernel_id}")
    assert (await client.get(f"/api/sessions/{session['id']}")).status_code == 404
    assert session["id"] not in {s["id"] for s in (await client.get("/api/sessions")).json()}


async def test_bad_requests(client: httpx.AsyncClient) -> None:
    no_path = await client.post("/api/sessions", json={"type": "notebook"})
    assert no_path.status_code == 400
    assert no_path.headers["content-type"] == "application/problem+json"
    unknown_spec = await client.post(
        "/api/sessions", json={"path": "x.ipynb", "type": "notebook", "kernel": {"name": "nope"}}
    )
    assert unknown_spec.status_code == 404
    assert unknown_spec.json()["code"] == "kernelspec-not-found"
    bad_id = await client.post(
        "/api/sessions", json={"path": "y.ipynb", "type": "notebook", "kernel": {"id": "nope"}}
    )
    assert bad_id.status_code == 400
    nul = await client.post("/api/sessions", json={"path": "z\u0000.ipynb", "type": "notebook"})
    assert nul.status_code == 400
    missing = await client.get("/api/sessions/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "session-not-found"
    gone = await client.delete("/api/sessions/00000000-0000-0000-0000-000000000000")
    assert gone.status_code == 404


@pytest.mark.slow
async def test_patch_to_unknown_kernel_id_is_400(client: httpx.AsyncClient) -> None:
    body = {"path": "d.ipynb", "name": "d.ipynb", "type": "notebook"}
    session = (await client.post("/api/sessions", json=body)).json()
    response = await client.patch(
        f"/api/sessions/{session['id']}",
        json={"kernel": {"id": "00000000-0000-0000-0000-000000000000"}},
    )
    assert response.status_code == 400
    unchanged = (await client.get(f"/api/sessions/{session['id']}")).json()
    assert unchanged["kernel"]["id"] == session["kernel"]["id"]
    await client.delete(f"/api/sessions/{session['id']}")
