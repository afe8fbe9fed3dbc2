"""``/api/contents``: Jupyter Server's contents and checkpoints API.

HTTP mapping only; the rules live in ``adrastea.contents``.  Status codes,
headers and bodies follow Jupyter Server: 201 + ``Location`` for anything
created, ``Last-Modified`` on models, 204 for deletes and restores.  The root
folder answers at ``/api/contents`` and ``/api/contents/`` alike.  Request
bodies are read as JSON whatever their ``Content-Type``, as Jupyter Server
does, so scripts that send ``data=json.dumps(model)`` keep working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response

from adrastea.contents import (
    ContentsManager,
    ContentsModel,
    ContentsType,
    FileFormat,
    NewRequest,
    RenameRequest,
    SaveRequest,
    parse_type,
)
from adrastea.errors import BadRequest, Conflict, InvalidPath
from adrastea.server._notebooks import NotebookService
from adrastea.server.deps import get_contents, get_notebooks

__all__ = ["router"]

router = APIRouter(tags=["contents"])

_PREFIX = "/api/contents"
# Percent-encoded dot, slash, backslash or NUL in the URL as sent.  Starlette
# decodes the path once; refusing these keeps "%2e%2e" from becoming a ".."
# that looks like a name and "a%2Fb" from naming something a client cannot.
_ENCODED_IN_URL = re.compile(rb"%(?:2e|2f|5c|00)", re.IGNORECASE)


async def api_path(request: Request, path: str) -> str:
    """The API path named by the URL (``""`` for ``/api/contents/``).

    Raises:
        InvalidPath: the URL encoded a dot, slash, backslash or NUL.
    """
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    if _ENCODED_IN_URL.search(raw):
        raise InvalidPath("percent-encoded dots, slashes, backslashes or NULs are refused in paths")
    return path


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """The query of a GET, checked as Jupyter Server checks it."""

    type: ContentsType | None
    format: FileFormat | None
    content: bool
    require_hash: bool


async def read_options(
    type_: str | None = Query(None, alias="type"),
    format_: str | None = Query(None, alias="format"),
    content: str = Query("1"),
    hash_: str = Query("0", alias="hash"),
) -> ReadOptions:
    """Parse ``type``, ``format``, ``content=0|1`` and ``hash=0|1``; 400 if malformed."""
    return ReadOptions(
        type=parse_type(type_),
        format=_file_format(format_),
        content=_flag("content", content),
        require_hash=_flag("hash", hash_),
    )


_Body = TypeVar("_Body", bound=BaseModel)


def json_body(model: type[_Body]) -> Callable[[Request], Awaitable[_Body | None]]:
    """A dependency parsing the request body as ``model``; None for an empty body.

    Malformed JSON or fields fail as FastAPI's own body validation does (400,
    ``invalid-request``), but no ``Content-Type: application/json`` is needed.
    """

    async def parse(request: Request) -> _Body | None:
        raw = await request.body()
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            error = {"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {exc}"}
            raise RequestValidationError([error]) from exc
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
            raise RequestValidationError(errors) from exc

    return parse


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body read by ``json_body`` (FastAPI cannot see it)."""
    schema = model.model_json_schema()
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


def _location(path: str) -> str:
    return f"{_PREFIX}/{quote(path)}"


def _model_response(
    model: ContentsModel, *, status: int = 200, location: bool = False
) -> JSONResponse:
    modified = datetime.fromisoformat(model["last_modified"])
    headers = {"Last-Modified": format_datetime(modified, usegmt=True)}
    if location:
        headers["Location"] = _location(model["path"])
    return JSONResponse(model, status_code=status, headers=headers)


def _flag(name: str, value: str) -> bool:
    if value not in ("0", "1"):
        raise BadRequest(f"{name}={value!r} is invalid; use 0 or 1")
    return value == "1"


def _file_format(value: str | None) -> FileFormat | None:
    if value is None:
        return None
    if value == "text":
        return "text"
    if value == "base64":
        return "base64"
    raise BadRequest(f"format={value!r} is invalid; use 'text' or 'base64'")


# Checkpoint routes come first so that ".../checkpoints" is not read as a file path.


@router.get(_PREFIX + "/{path:path}/checkpoints")
async def list_checkpoints(
    path: str = Depends(api_path), contents: ContentsManager = Depends(get_contents)
) -> Response:
    """The checkpoints of a file (at most one, with id ``checkpoint``)."""
    return JSONResponse(await contents.list_checkpoints(path))


@router.post(_PREFIX + "/{path:path}/checkpoints")
async def create_checkpoint(
    path: str = Depends(api_path), contents: ContentsManager = Depends(get_contents)
) -> Response:
    """Checkpoint a file now, replacing its previous checkpoint."""
    checkpoint = await contents.create_checkpoint(path)
    location = f"{_location(path)}/checkpoints/{quote(checkpoint['id'])}"
    return JSONResponse(checkpoint, status_code=201, headers={"Location": location})


@router.post(_PREFIX + "/{path:path}/checkpoints/{checkpoint_id}")
async def restore_checkpoint(
    checkpoint_id: str,
    path: str = Depends(api_path),
    contents: ContentsManager = Depends(get_contents),
    notebooks: NotebookService = Depends(get_notebooks),
) -> Response:
    """Put a file back as it was at the checkpoint (an open notebook reloads it)."""
    await contents.restore_checkpoint(path, checkpoint_id)
    live = notebooks.find(path)
    if live is not None:
        await live.live.reload()
    return Response(status_code=204)


@router.delete(_PREFIX + "/{path:path}/checkpoints/{checkpoint_id}")
async def delete_checkpoint(
    checkpoint_id: str,
    path: str = Depends(api_path),
    contents: ContentsManager = Depends(get_contents),
) -> Response:
    await contents.delete_checkpoint(path, checkpoint_id)
    return Response(status_code=204)


@router.get(_PREFIX + "/{path:path}")
async def read(
    path: str = Depends(api_path),
    options: ReadOptions = Depends(read_options),
    contents: ContentsManager = Depends(get_contents),
    notebooks: NotebookService = Depends(get_notebooks),
) -> Response:
    """A file, notebook or directory model; ``content=0`` leaves the content out.

    A notebook the server holds open is answered from its live document, so
    outputs produced since the last save are included.
    """
    live = notebooks.find(path) if options.content and options.type in (None, "notebook") else None
    model = await contents.get(
        path,
        type=options.type,
        format=options.format,
        content=options.content and live is None,
        require_hash=options.require_hash,
    )
    if live is not None and model["type"] == "notebook":
        model["content"] = await live.live.to_nbformat()
        model["format"] = "json"
    return _model_response(model)


@router.get(_PREFIX)
async def read_root(
    options: ReadOptions = Depends(read_options),
    contents: ContentsManager = Depends(get_contents),
    notebooks: NotebookService = Depends(get_notebooks),
) -> Response:
    """The root folder's model (``/api/contents`` without a trailing slash)."""
    return await read("", options, contents, notebooks)


@router.put(_PREFIX + "/{path:path}", openapi_extra=_documented(SaveRequest))
async def save(
    path: str = Depends(api_path),
    body: SaveRequest | None = Depends(json_body(SaveRequest)),
    contents: ContentsManager = Depends(get_contents),
    notebooks: NotebookService = Depends(get_notebooks),
) -> Response:
    """Save (200) or create (201) a file, notebook or folder; also upload chunks.

    A notebook the server holds open is merged into its live document (so
    browsers see the change and running cells keep their outputs), then saved.
    """
    request = body or SaveRequest()
    live = notebooks.find(path) if request.type == "notebook" else None
    if live is not None and isinstance(request.content, dict):
        await live.live.apply_nbformat(request.content)
        await live.live.save()
        model = await contents.get(path, content=False)
        return _model_response(model)
    model, created = await contents.save(path, request)
    return _model_response(model, status=201 if created else 200, location=True)


@router.post(_PREFIX + "/{path:path}", openapi_extra=_documented(NewRequest))
async def create(
    path: str = Depends(api_path),
    body: NewRequest | None = Depends(json_body(NewRequest)),
    contents: ContentsManager = Depends(get_contents),
) -> Response:
    """A new untitled file, notebook or folder in a folder, or a copy (``copy_from``)."""
    model = await contents.create(path, body or NewRequest())
    return _model_response(model, status=201, location=True)


@router.post(_PREFIX, openapi_extra=_documented(NewRequest))
async def create_in_root(
    body: NewRequest | None = Depends(json_body(NewRequest)),
    contents: ContentsManager = Depends(get_contents),
) -> Response:
    """``create`` in the root folder (``/api/contents`` without a trailing slash)."""
    return await create("", body, contents)


@router.patch(_PREFIX + "/{path:path}", openapi_extra=_documented(RenameRequest))
async def rename(
    path: str = Depends(api_path),
    body: RenameRequest | None = Depends(json_body(RenameRequest)),
    contents: ContentsManager = Depends(get_contents),
    notebooks: NotebookService = Depends(get_notebooks),
) -> Response:
    """Rename or move to ``{"path": new}``; 409 if something is there already."""
    if body is None:
        raise BadRequest('PATCH needs a JSON body: {"path": "new/path"}')
    await _release(notebooks, path)
    model = await contents.rename(path, body.path if body.path is not None else path)
    return _model_response(model, location=True)


@router.delete(_PREFIX + "/{path:path}")
async def delete(
    path: str = Depends(api_path),
    contents: ContentsManager = Depends(get_contents),
    notebooks: NotebookService = Depends(get_notebooks),
) -> Response:
    """Delete a file, or a folder with everything in it."""
    await _release(notebooks, path, save=False)
    await contents.delete(path)
    return Response(status_code=204)


async def _release(notebooks: NotebookService, path: str, *, save: bool = True) -> None:
    """Close an open notebook before it is moved or deleted.

    Refused (409) while a kernel is bound to it: moving the file under a
    running computation would leave its outputs nowhere.
    """
    live = notebooks.find(path)
    if live is None:
        return
    if live.kernel_id is not None:
        raise Conflict(f"{live.path} has a running kernel; shut it down first")
    await notebooks.close(path, save=save)
