"""PUT /api/contents: saving files, notebooks and folders, atomically; chunked uploads."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest

from tests.support import names, problem

pytestmark = pytest.mark.anyio


def notebook(*sources: str) -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in sources)
    # Through JSON text: a plain dict, with sources as strings, as JupyterLab sends it.
    content: dict[str, Any] = json.loads(json.dumps(nb))
    return content


async def test_put_creates_a_text_file(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.put(
        f"/api/contents/{here.name}/new.txt",
        json={"type": "file", "format": "text", "content": "first line\n"},
    )

    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/contents/{here.name}/new.txt"
    model = response.json()
    assert (model["name"], model["type"], model["content"]) == ("new.txt", "file", None)
    assert model["size"] == len("first line\n")
    assert (here / "new.txt").read_text() == "first line\n"


async def test_put_replaces_an_existing_file(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("old")
    response = await client.put(
        f"/api/contents/{here.name}/a.txt",
        json={"type": "file", "format": "text", "content": "new"},
    )
    assert response.status_code == 200
    assert (here / "a.txt").read_text() == "new"


async def test_put_keeps_the_files_mode_and_leaves_no_temp_file(
    client: httpx.AsyncClient, here: Path
) -> None:
    script = here / "run.sh"
    script.write_text("echo old\n")
    script.chmod(0o751)

    await client.put(
        f"/api/contents/{here.name}/run.sh",
        json={"type": "file", "format": "text", "content": "echo new\n"},
    )

    assert stat.S_IMODE(script.stat().st_mode) == 0o751
    assert script.read_text() == "echo new\n"
    assert names(here) == ["run.sh"]


async def test_put_base64(client: httpx.AsyncClient, here: Path) -> None:
    payload = bytes(range(256)) * 3
    response = await client.put(
        f"/api/contents/{here.name}/blob.bin",
        json={"type": "file", "format": "base64", "content": base64.b64encode(payload).decode()},
    )
    assert response.status_code == 201
    assert (here / "blob.bin").read_bytes() == payload


async def test_invalid_base64_is_refused_and_the_file_kept(
    client: httpx.AsyncClient, here: Path
) -> None:
    (here / "blob.bin").write_bytes(b"keep me")
    response = await client.put(
        f"/api/contents/{here.name}/blob.bin",
        json={"type": "file", "format": "base64", "content": "not base64!"},
    )
    assert "base64" in problem(response, 400, "bad-encoding")["detail"]
    assert (here / "blob.bin").read_bytes() == b"keep me"


async def test_file_content_needs_a_format(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.put(
        f"/api/contents/{here.name}/a.txt", json={"type": "file", "content": "x"}
    )
    assert "format" in problem(response, 400, "bad-request")["detail"]
    assert not (here / "a.txt").exists()


async def test_put_without_content_creates_an_empty_file(
    client: httpx.AsyncClient, here: Path
) -> None:
    response = await client.put(f"/api/contents/{here.name}/empty.txt", json={"type": "file"})
    assert response.status_code == 201
    assert (here / "empty.txt").read_bytes() == b""


async def test_put_notebook_writes_nbformat_json(client: httpx.AsyncClient, here: Path) -> None:
    content = notebook("import math", "math.pi")

    response = await client.put(
        f"/api/contents/{here.name}/nb.ipynb",
        json={"type": "notebook", "format": "json", "content": content},
    )

    assert response.status_code == 201
    assert response.json()["type"] == "notebook"
    on_disk = nbformat.read(here / "nb.ipynb", as_version=4)
    assert [cell.source for cell in on_disk.cells] == ["import math", "math.pi"]
    served = (await client.get(f"/api/contents/{here.name}/nb.ipynb")).json()["content"]
    assert served == content


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "x"}, "cells"),
        ("{this is not json", "not valid JSON"),
        ({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}, "nbformat 4"),
        (["a", "list"], "JSON object"),
    ],
    ids=["schema", "not-json", "nbformat-3", "not-an-object"],
)
async def test_invalid_notebook_put_leaves_the_file_byte_identical(
    client: httpx.AsyncClient, here: Path, content: Any, expected: str
) -> None:
    original = (json.dumps(notebook("keep = True"), indent=1) + "\n").encode()
    (here / "nb.ipynb").write_bytes(original)

    response = await client.put(
        f"/api/contents/{here.name}/nb.ipynb",
        json={"type": "notebook", "format": "json", "content": content},
    )

    assert expected in problem(response, 400, "invalid-notebook")["detail"]
    assert (here / "nb.ipynb").read_bytes() == original
    assert names(here) == ["nb.ipynb"]


async def test_invalid_cell_is_named_in_the_detail(client: httpx.AsyncClient, here: Path) -> None:
    content = notebook("a", "b")
    del content["cells"][1]["outputs"]
    response = await client.put(
        f"/api/contents/{here.name}/nb.ipynb", json={"type": "notebook", "content": content}
    )
    detail = problem(response, 400, "invalid-notebook")["detail"]
    assert "cells[1]" in detail and "outputs" in detail
    assert not (here / "nb.ipynb").exists()


async def test_duplicate_cell_ids_are_refused(client: httpx.AsyncClient, here: Path) -> None:
    content = notebook("a", "b")
    content["cells"][1]["id"] = content["cells"][0]["id"]
    response = await client.put(
        f"/api/contents/{here.name}/nb.ipynb", json={"type": "notebook", "content": content}
    )
    assert "duplicate cell id" in problem(response, 400, "invalid-notebook")["detail"]


async def test_put_directory(client: httpx.AsyncClient, here: Path) -> None:
    url = f"/api/contents/{here.name}/sub"
    first = await client.put(url, json={"type": "directory"})
    again = await client.put(url, json={"type": "directory"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["type"] == "directory"
    assert (here / "sub").is_dir()


async def test_put_cannot_turn_a_file_into_a_folder_or_back(
    client: httpx.AsyncClient, here: Path
) -> None:
    (here / "file").write_text("f")
    (here / "folder").mkdir()
    onto_file = await client.put(f"/api/contents/{here.name}/file", json={"type": "directory"})
    onto_folder = await client.put(
        f"/api/contents/{here.name}/folder",
        json={"type": "file", "format": "text", "content": "x"},
    )
    problem(onto_file, 400, "wrong-type")
    problem(onto_folder, 400, "wrong-type")
    assert (here / "file").read_text() == "f"
    assert (here / "folder").is_dir()


async def test_put_into_a_missing_folder_is_404(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.put(
        f"/api/contents/{here.name}/missing/a.txt",
        json={"type": "file", "format": "text", "content": "x"},
    )
    problem(response, 404, "file-not-found")
    assert not (here / "missing").exists()


async def test_put_refuses_copy_from(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    response = await client.put(
        f"/api/contents/{here.name}/b.txt", json={"copy_from": f"{here.name}/a.txt"}
    )
    assert "POST" in problem(response, 400, "bad-request")["detail"]


async def test_body_needs_no_json_content_type(client: httpx.AsyncClient, here: Path) -> None:
    body = json.dumps({"type": "file", "format": "text", "content": "scripted"})
    response = await client.put(
        f"/api/contents/{here.name}/a.txt", content=body, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 201
    assert (here / "a.txt").read_text() == "scripted"


async def test_malformed_body_is_400(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.put(
        f"/api/contents/{here.name}/a.txt",
        content=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    problem(response, 400, "invalid-request")


def chunk(number: int, data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {"type": "file", "format": "base64", "content": encoded, "chunk": number}


async def test_chunked_upload_appears_whole_at_the_last_chunk(
    client: httpx.AsyncClient, here: Path
) -> None:
    url = f"/api/contents/{here.name}/big.bin"
    target = here / "big.bin"
    pieces = [b"a" * 1000, b"b" * 1000, b"c" * 10]

    first = await client.put(url, json=chunk(1, pieces[0]))
    assert first.status_code == 201
    assert first.json()["size"] == 1000
    assert not target.exists()
    second = await client.put(url, json=chunk(2, pieces[1]))
    assert second.json()["size"] == 2000
    assert not target.exists()
    last = await client.put(url, json=chunk(-1, pieces[2]))

    assert last.json()["size"] == 2010
    assert target.read_bytes() == b"".join(pieces)
    assert names(here) == ["big.bin"]


async def test_chunked_upload_over_a_file_replaces_it_only_at_the_end(
    client: httpx.AsyncClient, here: Path
) -> None:
    url = f"/api/contents/{here.name}/data.txt"
    (here / "data.txt").write_text("old content")

    await client.put(url, json=chunk(1, b"new "))
    assert (here / "data.txt").read_text() == "old content"
    response = await client.put(url, json=chunk(-1, b"content"))

    assert response.status_code == 200
    assert (here / "data.txt").read_text() == "new content"


async def test_chunks_out_of_order_are_refused(client: httpx.AsyncClient, here: Path) -> None:
    url = f"/api/contents/{here.name}/up.bin"
    no_start = await client.put(url, json=chunk(2, b"x"))
    assert "chunk 1" in problem(no_start, 400, "invalid-upload")["detail"]

    await client.put(url, json=chunk(1, b"1"))
    skipped = await client.put(url, json=chunk(3, b"3"))
    assert "expected 2" in problem(skipped, 400, "invalid-upload")["detail"]
    # The upload survives the refused chunk and can go on in order.
    await client.put(url, json=chunk(2, b"2"))
    await client.put(url, json=chunk(-1, b"!"))
    assert (here / "up.bin").read_bytes() == b"12!"


async def test_chunked_notebook_upload_is_refused(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.put(
        f"/api/contents/{here.name}/nb.ipynb",
        json={"type": "notebook", "content": notebook(), "chunk": 1},
    )
    problem(response, 400, "bad-request")
    assert not (here / "nb.ipynb").exists()


async def test_body_of_the_wrong_shape_is_400(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.put(f"/api/contents/{here.name}/a.txt", json=["not", "a", "model"])
    assert problem(response, 400, "invalid-request")["errors"][0]["loc"] == "body"
    assert names(here) == []
