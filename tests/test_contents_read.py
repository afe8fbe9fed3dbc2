"""GET /api/contents: directory listings, files, notebooks, formats and hashes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import httpx
import nbformat
import pytest

from adrastea.testing import ServerProcess
from tests.support import problem

pytestmark = pytest.mark.anyio

MODEL_KEYS = {
    "name",
    "path",
    "type",
    "writable",
    "created",
    "last_modified",
    "size",
    "mimetype",
    "content",
    "format",
    "hash",
    "hash_algorithm",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def notebook_text(source: str = "1 + 1") -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    return str(nbformat.writes(nb))


async def test_directory_listing_has_jupyters_fields(client: httpx.AsyncClient, here: Path) -> None:
    (here / "script.py").write_text("print('hi')\n")
    (here / "analysis.ipynb").write_text(notebook_text())
    (here / "data").mkdir()

    response = await client.get(f"/api/contents/{here.name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "Last-Modified" in response.headers
    model = response.json()
    assert set(model) == MODEL_KEYS
    assert (model["name"], model["path"], model["type"]) == (here.name, here.name, "directory")
    assert (model["format"], model["mimetype"], model["size"]) == ("json", None, None)
    entries = {entry["name"]: entry for entry in model["content"]}
    assert sorted(entries) == ["analysis.ipynb", "data", "script.py"]
    for entry in entries.values():
        assert set(entry) == MODEL_KEYS
        assert entry["path"] == f"{here.name}/{entry['name']}"
        assert entry["content"] is None and entry["format"] is None
        assert ISO_UTC.match(entry["created"]) and ISO_UTC.match(entry["last_modified"])
    assert entries["script.py"]["type"] == "file"
    assert entries["script.py"]["mimetype"] == "text/x-python"
    assert entries["script.py"]["size"] == len("print('hi')\n")
    assert entries["analysis.ipynb"]["type"] == "notebook"
    assert entries["data"]["type"] == "directory"


async def test_root_answers_with_and_without_trailing_slash(client: httpx.AsyncClient) -> None:
    for url in ("/api/contents", "/api/contents/"):
        model = (await client.get(url)).json()
        assert (model["path"], model["name"], model["type"]) == ("", "", "directory")


async def test_listing_hides_dot_files_and_the_state_folder(
    client: httpx.AsyncClient, server: ServerProcess, here: Path
) -> None:
    (here / ".secret").write_text("s")
    (here / ".cache").mkdir()
    (here / "visible.txt").write_text("v")

    listed = (await client.get(f"/api/contents/{here.name}")).json()["content"]
    root_listed = (await client.get("/api/contents")).json()["content"]

    assert (server.root / ".adrastea").is_dir()
    assert [entry["name"] for entry in listed] == ["visible.txt"]
    assert ".adrastea" not in {entry["name"] for entry in root_listed}


async def test_listing_leaves_out_what_jupyter_leaves_out(
    client: httpx.AsyncClient, here: Path
) -> None:
    (here / "__pycache__").mkdir()
    (here / "mod.pyc").write_bytes(b"\0")
    (here / "notes.txt~").write_text("backup")
    (here / "mod.py").write_text("")

    listed = (await client.get(f"/api/contents/{here.name}")).json()["content"]

    assert [entry["name"] for entry in listed] == ["mod.py"]


async def test_directory_without_content(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    model = (await client.get(f"/api/contents/{here.name}", params={"content": 0})).json()
    assert model["content"] is None
    assert model["format"] is None


async def test_text_file(client: httpx.AsyncClient, here: Path) -> None:
    (here / "hello.txt").write_text("héllo\n", encoding="utf-8")

    model = (await client.get(f"/api/contents/{here.name}/hello.txt")).json()

    assert (model["type"], model["format"], model["content"]) == ("file", "text", "héllo\n")
    assert model["mimetype"] == "text/plain"
    assert model["size"] == len("héllo\n".encode())


async def test_binary_file_falls_back_to_base64(client: httpx.AsyncClient, here: Path) -> None:
    payload = bytes(range(256))
    (here / "blob.bin").write_bytes(payload)

    model = (await client.get(f"/api/contents/{here.name}/blob.bin")).json()

    assert model["format"] == "base64"
    assert base64.b64decode(model["content"]) == payload
    assert model["mimetype"] == "application/octet-stream"


async def test_text_format_on_non_utf8_is_refused(client: httpx.AsyncClient, here: Path) -> None:
    (here / "latin1.txt").write_bytes("café".encode("latin-1"))

    response = await client.get(f"/api/contents/{here.name}/latin1.txt", params={"format": "text"})

    body = problem(response, 400, "bad-encoding")
    assert "UTF-8" in body["detail"]
    assert "base64" in body["detail"]


async def test_base64_format_on_text(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("abc")
    response = await client.get(f"/api/contents/{here.name}/a.txt", params={"format": "base64"})
    model = response.json()
    assert model["format"] == "base64"
    assert base64.b64decode(model["content"]) == b"abc"


async def test_file_without_content(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.csv").write_text("x,y\n")
    model = (await client.get(f"/api/contents/{here.name}/a.csv", params={"content": 0})).json()
    assert model["content"] is None and model["format"] is None
    assert model["mimetype"] == "text/csv"
    assert model["size"] == 4


@pytest.mark.parametrize("content", ["0", "1"])
async def test_hash_on_request(client: httpx.AsyncClient, here: Path, content: str) -> None:
    (here / "data.bin").write_bytes(b"\x00\x01payload")

    plain = (await client.get(f"/api/contents/{here.name}/data.bin")).json()
    hashed = (
        await client.get(
            f"/api/contents/{here.name}/data.bin", params={"hash": 1, "content": content}
        )
    ).json()

    assert plain["hash"] is None and plain["hash_algorithm"] is None
    assert hashed["hash"] == hashlib.sha256(b"\x00\x01payload").hexdigest()
    assert hashed["hash_algorithm"] == "sha256"


async def test_notebook_content_is_a_dict(client: httpx.AsyncClient, here: Path) -> None:
    (here / "nb.ipynb").write_text(notebook_text("x = 1\ny = 2"))

    model = (await client.get(f"/api/contents/{here.name}/nb.ipynb")).json()

    assert (model["type"], model["format"], model["mimetype"]) == ("notebook", "json", None)
    assert model["content"]["nbformat"] == 4
    # Sources come back joined, as Jupyter serves them, not as the file's line lists.
    assert model["content"]["cells"][0]["source"] == "x = 1\ny = 2"
    assert "message" not in model


async def test_type_file_reads_a_notebook_as_text(client: httpx.AsyncClient, here: Path) -> None:
    text = notebook_text()
    (here / "nb.ipynb").write_text(text)
    response = await client.get(f"/api/contents/{here.name}/nb.ipynb", params={"type": "file"})
    model = response.json()
    assert (model["type"], model["format"], model["content"]) == ("file", "text", text)


async def test_type_notebook_reads_any_file_as_one(client: httpx.AsyncClient, here: Path) -> None:
    (here / "nb.json").write_text(notebook_text())
    response = await client.get(f"/api/contents/{here.name}/nb.json", params={"type": "notebook"})
    assert response.json()["content"]["cells"][0]["source"] == "1 + 1"


async def test_type_mismatches_are_400(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    on_file = await client.get(f"/api/contents/{here.name}/a.txt", params={"type": "directory"})
    on_dir = await client.get(f"/api/contents/{here.name}", params={"type": "notebook"})
    problem(on_file, 400, "wrong-type")
    assert "directory" in problem(on_dir, 400, "wrong-type")["detail"]


@pytest.mark.parametrize(
    ("params", "word"),
    [({"format": "json"}, "format"), ({"content": "yes"}, "content"), ({"hash": "2"}, "hash")],
)
async def test_bad_query_values_are_400(
    client: httpx.AsyncClient, here: Path, params: dict[str, str], word: str
) -> None:
    (here / "a.txt").write_text("a")
    response = await client.get(f"/api/contents/{here.name}/a.txt", params=params)
    assert word in problem(response, 400, "bad-request")["detail"]


async def test_missing_file_is_404(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.get(f"/api/contents/{here.name}/nope.txt")
    assert "nope.txt" in problem(response, 404, "file-not-found")["detail"]


async def test_unparsable_notebook_is_400(client: httpx.AsyncClient, here: Path) -> None:
    (here / "broken.ipynb").write_text("{not json")
    response = await client.get(f"/api/contents/{here.name}/broken.ipynb")
    assert "unreadable" in problem(response, 400, "invalid-notebook")["detail"]


async def test_invalid_notebook_is_served_with_a_message(
    client: httpx.AsyncClient, here: Path
) -> None:
    data = json.loads(notebook_text())
    del data["cells"][0]["outputs"]
    (here / "odd.ipynb").write_text(json.dumps(data))

    model = (await client.get(f"/api/contents/{here.name}/odd.ipynb")).json()

    assert model["content"]["cells"][0]["source"] == "1 + 1"
    assert "outputs" in model["message"]
