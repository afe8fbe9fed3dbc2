"""Checkpoints: create, list, restore, delete; kept in the state folder, moved with files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import nbformat
import pytest

from adrastea.testing import ServerProcess
from tests.support import names, problem

pytestmark = pytest.mark.anyio

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def stored(server: ServerProcess, here: Path, name: str) -> Path:
    return server.root / ".adrastea" / "checkpoints" / here.name / name


async def test_create_list_restore_delete(
    client: httpx.AsyncClient, server: ServerProcess, here: Path
) -> None:
    (here / "notes.txt").write_text("version 1")
    url = f"/api/contents/{here.name}/notes.txt/checkpoints"

    created = await client.post(url)
    assert created.status_code == 201
    checkpoint = created.json()
    assert checkpoint["id"] == "checkpoint"
    assert ISO_UTC.match(checkpoint["last_modified"])
    assert created.headers["Location"] == f"{url}/checkpoint"
    assert (await client.get(url)).json() == [checkpoint]

    (here / "notes.txt").write_text("version 2")
    restored = await client.post(f"{url}/checkpoint")
    assert restored.status_code == 204
    assert (here / "notes.txt").read_text() == "version 1"

    deleted = await client.delete(f"{url}/checkpoint")
    assert deleted.status_code == 204
    assert (await client.get(url)).json() == []
    problem(await client.post(f"{url}/checkpoint"), 404, "checkpoint-not-found")
    assert (here / "notes.txt").read_text() == "version 1"


async def test_checkpoints_live_in_the_state_folder(
    client: httpx.AsyncClient, server: ServerProcess, here: Path
) -> None:
    (here / "a.txt").write_text("a")
    await client.post(f"/api/contents/{here.name}/a.txt/checkpoints")
    assert stored(server, here, "a.txt").read_text() == "a"
    assert names(here) == ["a.txt"]


async def test_restore_keeps_the_files_mode(client: httpx.AsyncClient, here: Path) -> None:
    script = here / "run.sh"
    script.write_text("echo 1")
    script.chmod(0o700)
    url = f"/api/contents/{here.name}/run.sh/checkpoints"
    await client.post(url)
    script.write_text("echo 2")

    await client.post(f"{url}/checkpoint")

    assert script.read_text() == "echo 1"
    assert script.stat().st_mode & 0o777 == 0o700


async def test_saving_a_notebook_makes_its_first_checkpoint(
    client: httpx.AsyncClient, here: Path
) -> None:
    content = json.loads(json.dumps(nbformat.v4.new_notebook()))
    url = f"/api/contents/{here.name}/nb.ipynb"
    await client.put(url, json={"type": "notebook", "content": content})
    first = (await client.get(f"{url}/checkpoints")).json()

    content["metadata"]["edited"] = True
    await client.put(url, json={"type": "notebook", "content": content})

    assert [c["id"] for c in first] == ["checkpoint"]
    await client.post(f"{url}/checkpoints/checkpoint")
    assert "edited" not in nbformat.read(here / "nb.ipynb", as_version=4).metadata


async def test_checkpoints_follow_renames_and_deletes(
    client: httpx.AsyncClient, server: ServerProcess, here: Path
) -> None:
    (here / "dir").mkdir()
    (here / "dir" / "a.txt").write_text("a")
    await client.post(f"/api/contents/{here.name}/dir/a.txt/checkpoints")

    await client.patch(f"/api/contents/{here.name}/dir", json={"path": f"{here.name}/moved"})
    moved = (await client.get(f"/api/contents/{here.name}/moved/a.txt/checkpoints")).json()
    assert [c["id"] for c in moved] == ["checkpoint"]
    assert not stored(server, here, "dir").exists()

    await client.delete(f"/api/contents/{here.name}/moved")
    assert not stored(server, here, "moved").exists()
    (here / "moved").mkdir()
    (here / "moved" / "a.txt").write_text("new file, same name")
    assert (await client.get(f"/api/contents/{here.name}/moved/a.txt/checkpoints")).json() == []


async def test_checkpoint_errors(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    base = f"/api/contents/{here.name}"
    await client.post(f"{base}/a.txt/checkpoints")

    problem(await client.get(f"{base}/ghost.txt/checkpoints"), 404, "file-not-found")
    problem(await client.post(f"{base}/ghost.txt/checkpoints"), 404, "file-not-found")
    problem(await client.post(f"{base}/checkpoints"), 400, "wrong-type")
    problem(await client.post(f"{base}/a.txt/checkpoints/other"), 404, "checkpoint-not-found")
    problem(await client.delete(f"{base}/a.txt/checkpoints/other"), 404, "checkpoint-not-found")
    assert (here / "a.txt").read_text() == "a"
