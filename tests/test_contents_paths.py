"""Every contents path stays inside the served root; escapes are refused, disk untouched.

Hostile URLs are sent over a raw socket, byte for byte: HTTP clients would
normalise ``..`` away or re-encode ``%2e`` before the server ever saw them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from adrastea.testing import ServerProcess
from tests.support import problem

pytestmark = pytest.mark.anyio

Snapshot = dict[str, tuple[int, bytes | str | None]]


@pytest.fixture
async def here(
    server: ServerProcess, client: httpx.AsyncClient, request: pytest.FixtureRequest
) -> Path:
    """A fresh folder under the served root, named after the test.

    One request first: the server prints its URL before its start-up (which
    creates the state folder) has run, and these tests compare disk snapshots.
    """
    assert (await client.get("/api")).status_code == 200
    folder = server.root / re.sub(r"\W", "_", request.node.name)
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A folder outside the served root, holding a secret."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("top secret")
    yield folder


def snapshot(*folders: Path) -> Snapshot:
    """Every entry under ``folders`` with its mode and bytes (or link target)."""
    seen: Snapshot = {}
    for folder in folders:
        for top, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(top, name)
                info = path.lstat()
                if path.is_symlink():
                    seen[str(path)] = (info.st_mode, str(path.readlink()))
                elif path.is_file():
                    seen[str(path)] = (info.st_mode, path.read_bytes())
                else:
                    seen[str(path)] = (info.st_mode, None)
    return seen


async def raw_request(
    server: ServerProcess, method: str, target: str, body: Any = None
) -> tuple[int, bytes]:
    """Send ``target`` exactly as given; returns (status, body)."""
    payload = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {target} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: token {server.token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    received = b""
    async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        await stream.send(head.encode() + payload)
        try:
            while True:
                received += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


ESCAPES = [
    "../outside/secret.txt",
    "{here}/../../outside/secret.txt",
    "%2e%2e/outside/secret.txt",
    "%2E%2E%2Foutside%2Fsecret.txt",
    "{here}%2F..%2F..%2Foutside",
    "%252e%252e/outside/secret.txt",
    "{here}/%5c..%5c..%5coutside",
    "{here}/a%00.txt",
    "/{here}/x.txt",
    "{here}/./x.txt",
]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "POST"])
@pytest.mark.parametrize("escape", ESCAPES)
async def test_escapes_in_the_url_are_refused_and_touch_nothing(
    server: ServerProcess, here: Path, outside: Path, method: str, escape: str
) -> None:
    (here / "x.txt").write_text("x")
    before = snapshot(server.root, outside.parent)
    body = {"type": "file", "format": "text", "content": "pwned", "path": "moved.txt"}

    status, answer = await raw_request(
        server, method, "/api/contents/" + escape.format(here=here.name), body
    )

    assert status in (400, 404), answer
    assert json.loads(answer)["code"] in ("invalid-path", "file-not-found")
    assert b"top secret" not in answer
    assert snapshot(server.root, outside.parent) == before


@pytest.mark.parametrize(
    "bad", ["../escaped.txt", "/tmp/escaped.txt", "a/../../escaped.txt", "a\\..\\b", "%2e%2e/x"]
)
async def test_escapes_in_bodies_are_refused(
    client: httpx.AsyncClient, server: ServerProcess, here: Path, bad: str
) -> None:
    (here / "a.txt").write_text("a")
    before = snapshot(server.root.parent)

    moved = await client.patch(f"/api/contents/{here.name}/a.txt", json={"path": bad})
    copied = await client.post(f"/api/contents/{here.name}", json={"copy_from": bad})

    problem(moved, 400, "invalid-path")
    problem(copied, 400, "invalid-path")
    assert snapshot(server.root.parent) == before


async def test_a_link_out_of_the_root_leads_nowhere(
    client: httpx.AsyncClient, server: ServerProcess, here: Path, outside: Path
) -> None:
    (here / "way-out").symlink_to(outside)
    (here / "secret-link.txt").symlink_to(outside / "secret.txt")
    before = snapshot(server.root, outside)
    text = {"type": "file", "format": "text", "content": "pwned"}
    base = f"/api/contents/{here.name}"

    answers = [
        await client.get(f"{base}/way-out"),
        await client.get(f"{base}/way-out/secret.txt"),
        await client.get(f"{base}/secret-link.txt"),
        await client.put(f"{base}/way-out/new.txt", json=text),
        await client.put(f"{base}/secret-link.txt", json=text),
        await client.delete(f"{base}/way-out"),
        await client.patch(f"{base}/secret-link.txt", json={"path": f"{here.name}/got.txt"}),
        await client.post(base, json={"copy_from": f"{here.name}/way-out/secret.txt"}),
        await client.post(f"{base}/way-out", json={"type": "file"}),
        await client.post(f"{base}/secret-link.txt/checkpoints"),
    ]

    for answer in answers:
        problem(answer, 404, "file-not-found")
        assert "top secret" not in answer.text
    assert snapshot(server.root, outside) == before
    listed = (await client.get(base)).json()["content"]
    assert listed == []


async def test_links_inside_the_root_work(client: httpx.AsyncClient, here: Path) -> None:
    (here / "real.txt").write_text("real")
    (here / "alias.txt").symlink_to("real.txt")

    read = (await client.get(f"/api/contents/{here.name}/alias.txt")).json()
    await client.put(
        f"/api/contents/{here.name}/alias.txt",
        json={"type": "file", "format": "text", "content": "through the link"},
    )

    assert read["content"] == "real"
    assert (here / "alias.txt").is_symlink()
    assert (here / "real.txt").read_text() == "through the link"


async def test_links_to_hidden_or_state_paths_are_refused(
    client: httpx.AsyncClient, server: ServerProcess, here: Path
) -> None:
    (here / ".private").mkdir()
    (here / ".private" / "key").write_text("k")
    (here / "to-hidden").symlink_to(here / ".private")
    (here / "to-state").symlink_to(server.root / ".adrastea")

    for name in ("to-hidden/key", "to-state", "to-state/checkpoints"):
        problem(await client.get(f"/api/contents/{here.name}/{name}"), 404, "file-not-found")
    listed = (await client.get(f"/api/contents/{here.name}")).json()["content"]
    assert listed == []


async def test_a_link_loop_is_not_found_and_not_listed(
    client: httpx.AsyncClient, here: Path
) -> None:
    (here / "loop").symlink_to("loop")
    (here / "ok.txt").write_text("ok")
    problem(await client.get(f"/api/contents/{here.name}/loop"), 404, "file-not-found")
    listed = (await client.get(f"/api/contents/{here.name}")).json()["content"]
    assert [entry["name"] for entry in listed] == ["ok.txt"]


async def test_hidden_paths_are_refused(
    client: httpx.AsyncClient, server: ServerProcess, here: Path
) -> None:
    (here / ".env").write_text("TOKEN=1")
    before = snapshot(server.root)
    base = f"/api/contents/{here.name}"

    answers = [
        await client.get(f"{base}/.env"),
        await client.put(f"{base}/.env", json={"type": "file", "format": "text", "content": ""}),
        await client.put(f"{base}/.new", json={"type": "directory"}),
        await client.delete(f"{base}/.env"),
        await client.patch(f"{base}/.env", json={"path": f"{here.name}/env.txt"}),
        await client.get("/api/contents/.adrastea"),
        await client.get("/api/contents/.adrastea/checkpoints"),
    ]

    for answer in answers:
        problem(answer, 404, "file-not-found")
    assert snapshot(server.root) == before


@pytest.mark.slow
async def test_allow_hidden_shows_dot_files_but_never_the_state_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    state = root / "server-state"  # not a dot name: hidden only because it is the state folder
    root.mkdir()
    (root / ".config").write_text("c")
    args = ("--set", "contents.allow_hidden=true", "--set", f"server.state_dir={state}")
    with ServerProcess(root, *args) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as client:
            listed = (await client.get("/api/contents")).json()["content"]
            dotted = await client.get("/api/contents/.config")
            into_state = await client.get("/api/contents/server-state")
            write_state = await client.put(
                "/api/contents/server-state/x.txt",
                json={"type": "file", "format": "text", "content": "x"},
            )
    assert [entry["name"] for entry in listed] == [".config"]
    assert dotted.json()["content"] == "c"
    problem(into_state, 404, "file-not-found")
    problem(write_state, 404, "file-not-found")
    assert state.is_dir()
    assert not (state / "x.txt").exists()
