"""POST, PATCH and DELETE /api/contents: untitled entries, copies, renames, deletes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import nbformat
import pytest

from tests.support import names, problem

pytestmark = pytest.mark.anyio


async def created_names(client: httpx.AsyncClient, url: str, body: Any, times: int) -> list[str]:
    names = []
    for _ in range(times):
        response = await client.post(url, json=body)
        assert response.status_code == 201, response.text
        model = response.json()
        assert response.headers["Location"] == f"/api/contents/{quote(model['path'])}"
        names.append(model["name"])
    return names


async def test_untitled_notebooks(client: httpx.AsyncClient, here: Path) -> None:
    names = await created_names(client, f"/api/contents/{here.name}", {"type": "notebook"}, 3)
    assert names == ["Untitled.ipynb", "Untitled1.ipynb", "Untitled2.ipynb"]
    notebook = nbformat.read(here / "Untitled.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells == []


async def test_untitled_files_with_an_extension(client: httpx.AsyncClient, here: Path) -> None:
    body = {"type": "file", "ext": ".py"}
    names = await created_names(client, f"/api/contents/{here.name}", body, 2)
    assert names == ["untitled.py", "untitled1.py"]
    assert (here / "untitled.py").read_bytes() == b""


async def test_untitled_folders(client: httpx.AsyncClient, here: Path) -> None:
    body = {"type": "directory"}
    names = await created_names(client, f"/api/contents/{here.name}", body, 2)
    assert names == ["Untitled Folder", "Untitled Folder 1"]
    assert (here / "Untitled Folder 1").is_dir()


async def test_post_without_body_makes_an_untitled_file(
    client: httpx.AsyncClient, here: Path
) -> None:
    response = await client.post(f"/api/contents/{here.name}")
    assert response.status_code == 201
    assert response.json()["name"] == "untitled"
    assert (here / "untitled").is_file()


async def test_post_to_a_missing_folder_or_a_file(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    missing = await client.post(f"/api/contents/{here.name}/nope", json={"type": "file"})
    to_file = await client.post(f"/api/contents/{here.name}/a.txt", json={"type": "file"})
    problem(missing, 404, "file-not-found")
    assert "PUT" in problem(to_file, 400, "bad-request")["detail"]
    assert names(here) == ["a.txt"]


async def test_copy_names_follow_jupyter(client: httpx.AsyncClient, here: Path) -> None:
    (here / "nb.ipynb").write_bytes(b'{"exact": "bytes"}')
    url = f"/api/contents/{here.name}"
    body = {"copy_from": f"{here.name}/nb.ipynb"}

    names = await created_names(client, url, body, 2)
    of_copy = await created_names(client, url, {"copy_from": f"{here.name}/nb-Copy1.ipynb"}, 1)

    assert names == ["nb-Copy1.ipynb", "nb-Copy2.ipynb"]
    assert of_copy == ["nb-Copy3.ipynb"]
    assert (here / "nb-Copy1.ipynb").read_bytes() == b'{"exact": "bytes"}'


async def test_copy_into_another_folder_keeps_the_name(
    client: httpx.AsyncClient, here: Path
) -> None:
    (here / "data.tar.gz").write_bytes(b"\x1f\x8b")
    (here / "dest").mkdir()
    body = {"copy_from": f"{here.name}/data.tar.gz"}

    first = await created_names(client, f"/api/contents/{here.name}/dest", body, 2)
    beside = await created_names(client, f"/api/contents/{here.name}", body, 1)

    assert first == ["data.tar.gz", "data-Copy1.tar.gz"]
    assert beside == ["data-Copy1.tar.gz"]


async def test_copy_to_an_exact_new_path(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    response = await client.post(
        f"/api/contents/{here.name}/b.txt", json={"copy_from": f"{here.name}/a.txt"}
    )
    assert response.status_code == 201
    assert (here / "b.txt").read_text() == "a"


async def test_copy_a_folder(client: httpx.AsyncClient, here: Path) -> None:
    (here / "proj" / "src").mkdir(parents=True)
    (here / "proj" / "src" / "main.py").write_text("print(1)")

    names = await created_names(
        client, f"/api/contents/{here.name}", {"copy_from": f"{here.name}/proj"}, 1
    )

    assert names == ["proj-Copy1"]
    assert (here / "proj-Copy1" / "src" / "main.py").read_text() == "print(1)"


async def test_copy_a_folder_into_itself_is_refused(client: httpx.AsyncClient, here: Path) -> None:
    (here / "proj").mkdir()
    response = await client.post(
        f"/api/contents/{here.name}/proj", json={"copy_from": f"{here.name}/proj"}
    )
    assert "itself" in problem(response, 400, "invalid-path")["detail"]
    assert list((here / "proj").iterdir()) == []


async def test_copy_of_a_missing_file_is_404(client: httpx.AsyncClient, here: Path) -> None:
    response = await client.post(
        f"/api/contents/{here.name}", json={"copy_from": f"{here.name}/ghost.txt"}
    )
    problem(response, 404, "file-not-found")


async def test_rename(client: httpx.AsyncClient, here: Path) -> None:
    (here / "old.txt").write_text("content")

    response = await client.patch(
        f"/api/contents/{here.name}/old.txt", json={"path": f"{here.name}/new.txt"}
    )

    assert response.status_code == 200
    assert response.headers["Location"] == f"/api/contents/{here.name}/new.txt"
    assert response.json()["name"] == "new.txt"
    assert (here / "new.txt").read_text() == "content"
    assert not (here / "old.txt").exists()


async def test_move_into_a_subfolder(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    (here / "sub").mkdir()
    response = await client.patch(
        f"/api/contents/{here.name}/a.txt", json={"path": f"{here.name}/sub/a.txt"}
    )
    assert response.json()["path"] == f"{here.name}/sub/a.txt"
    assert (here / "sub" / "a.txt").read_text() == "a"


async def test_rename_onto_an_existing_file_is_409(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    (here / "b.txt").write_text("b")

    response = await client.patch(
        f"/api/contents/{here.name}/a.txt", json={"path": f"{here.name}/b.txt"}
    )

    problem(response, 409, "file-exists")
    assert (here / "a.txt").read_text() == "a"
    assert (here / "b.txt").read_text() == "b"


async def test_rename_errors(client: httpx.AsyncClient, here: Path) -> None:
    (here / "dir").mkdir()
    (here / "a.txt").write_text("a")
    missing = await client.patch(
        f"/api/contents/{here.name}/ghost.txt", json={"path": f"{here.name}/x.txt"}
    )
    no_parent = await client.patch(
        f"/api/contents/{here.name}/a.txt", json={"path": f"{here.name}/nope/a.txt"}
    )
    into_itself = await client.patch(
        f"/api/contents/{here.name}/dir", json={"path": f"{here.name}/dir/inner"}
    )
    problem(missing, 404, "file-not-found")
    problem(no_parent, 404, "file-not-found")
    problem(into_itself, 400, "invalid-path")
    assert names(here) == ["a.txt", "dir"]


async def test_rename_needs_a_body(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    response = await client.patch(f"/api/contents/{here.name}/a.txt")
    assert "path" in problem(response, 400, "bad-request")["detail"]
    assert names(here) == ["a.txt"]


async def test_delete_a_file(client: httpx.AsyncClient, here: Path) -> None:
    (here / "a.txt").write_text("a")
    response = await client.delete(f"/api/contents/{here.name}/a.txt")
    assert response.status_code == 204
    assert response.content == b""
    assert not (here / "a.txt").exists()


async def test_delete_a_non_empty_folder(client: httpx.AsyncClient, here: Path) -> None:
    (here / "tree" / "deep").mkdir(parents=True)
    (here / "tree" / "deep" / "f.txt").write_text("f")
    response = await client.delete(f"/api/contents/{here.name}/tree")
    assert response.status_code == 204
    assert not (here / "tree").exists()


async def test_delete_a_link_keeps_its_target(client: httpx.AsyncClient, here: Path) -> None:
    (here / "real").mkdir()
    (here / "real" / "f.txt").write_text("f")
    (here / "link").symlink_to(here / "real")
    response = await client.delete(f"/api/contents/{here.name}/link")
    assert response.status_code == 204
    assert not (here / "link").exists()
    assert (here / "real" / "f.txt").read_text() == "f"


async def test_delete_errors(client: httpx.AsyncClient, here: Path) -> None:
    problem(await client.delete(f"/api/contents/{here.name}/ghost"), 404, "file-not-found")
    root = problem(await client.delete("/api/contents/"), 400, "invalid-path")
    assert "root" in root["detail"]
    assert here.name in names(here.parent)
