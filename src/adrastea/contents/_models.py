"""Jupyter's contents and checkpoint models, and the requests that change files.

Field names and shapes follow Jupyter Server's REST API exactly: every model
has ``name, path, type, writable, created, last_modified, size, mimetype,
content, format, hash, hash_algorithm``; ``content``/``format`` are null unless
content was asked for, ``hash``/``hash_algorithm`` null unless a hash was.
Timestamps are ISO 8601 in UTC with a ``Z``, as Jupyter Server writes them.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import time
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckpointModel",
    "ContentsModel",
    "ContentsType",
    "NewRequest",
    "RenameRequest",
    "SaveRequest",
    "base_model",
    "guess_mimetype",
    "isoformat",
    "kind_of",
    "parse_type",
    "pending_model",
]

ContentsType = Literal["directory", "file", "notebook"]
TYPES: frozenset[str] = frozenset({"directory", "file", "notebook"})

HASH_ALGORITHM = "sha256"

mimetypes.init()


class ContentsModel(TypedDict):
    """A file, notebook or directory as the contents API describes it."""

    name: str
    path: str
    type: ContentsType
    writable: bool
    created: str
    last_modified: str
    size: int | None
    mimetype: str | None
    content: Any
    format: str | None
    hash: str | None
    hash_algorithm: str | None
    message: NotRequired[str]


class CheckpointModel(TypedDict):
    """One checkpoint of a file: its id and when it was taken."""

    id: str
    last_modified: str


class _Request(BaseModel):
    # Clients send whole models back (name, path, mimetype...); extra keys are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)


class SaveRequest(_Request):
    """The body of ``PUT /api/contents/{path}``: save, upload or create."""

    type: str | None = Field(None, description="'file', 'notebook' or 'directory'.")
    format: str | None = Field(None, description="'text' or 'base64' for files; 'json'.")
    content: Any = Field(None, description="Text, base64 or a notebook dict.")
    chunk: int | None = Field(None, description="Upload chunk: 1, 2, ..., -1 for the last.")
    copy_from: str | None = Field(None, description="Refused: copying is done with POST.")


class NewRequest(_Request):
    """The body of ``POST /api/contents/{dir}``: a new untitled entry, or a copy."""

    type: str | None = Field(None, description="'file', 'notebook' or 'directory'.")
    ext: str = Field("", description="Extension of a new untitled file, e.g. '.py'.")
    copy_from: str | None = Field(None, description="Path of the file to copy.")


class RenameRequest(_Request):
    """The body of ``PATCH /api/contents/{path}``: the new path."""

    path: str | None = Field(None, description="The new API path.")


# Listings format two timestamps per entry and mostly the same ones request after
# request; caching the strings takes the largest cost out of a listing.
@functools.lru_cache(maxsize=8192)
def isoformat(timestamp: float) -> str:
    """A POSIX timestamp as Jupyter writes it: ``2024-05-01T12:00:00.123456Z``."""
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (ValueError, OverflowError, OSError):
        # Some file systems report nonsense times; Jupyter falls back to the epoch too.
        moment = datetime(1970, 1, 1, tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def parse_type(value: str | None) -> ContentsType | None:
    """A client's ``type``: None when absent; unknown types mean ``file``, as in Jupyter."""
    if not value:
        return None
    return cast(ContentsType, value) if value in TYPES else "file"


def kind_of(name: str, *, is_dir: bool) -> ContentsType:
    """The contents type Jupyter gives an entry: notebooks are found by extension."""
    if is_dir:
        return "directory"
    return "notebook" if name.endswith(".ipynb") else "file"


def guess_mimetype(name: str) -> str | None:
    """The mimetype ``mimetypes`` gives ``name`` (text/x-python for ``a.py``), or None."""
    # guess_type only looks at the last two suffixes (an encoding such as .gz,
    # then the type), so those are the cache key.
    last = name.rfind(".")
    if last < 0:
        return None
    before = name.rfind(".", 0, last)
    return _guess_by_suffixes(name[before:] if before > 0 else name[last:])


@functools.lru_cache(maxsize=1024)
def _guess_by_suffixes(suffixes: str) -> str | None:
    return mimetypes.guess_type("x" + suffixes)[0]


def base_model(
    api: str, kind: ContentsType, info: os.stat_result, *, writable: bool
) -> ContentsModel:
    """The content-less model of an entry, from its (link-following) stat."""
    name = api.rpartition("/")[2]
    return {
        "name": name,
        "path": api,
        "type": kind,
        "writable": writable,
        # st_birthtime where the platform has it; ctime is Jupyter's fallback too.
        "created": isoformat(getattr(info, "st_birthtime", info.st_ctime)),
        "last_modified": isoformat(info.st_mtime),
        "size": info.st_size if kind != "directory" else None,
        "mimetype": guess_mimetype(name) if kind == "file" else None,
        "content": None,
        "format": None,
        "hash": None,
        "hash_algorithm": None,
    }


def pending_model(api: str, size: int) -> ContentsModel:
    """The model answered for a file whose chunked upload is still in progress.

    The file itself is not on disk yet (it appears whole after the last
    chunk); ``size`` is the number of bytes received so far.
    """
    now = isoformat(time.time())
    model = base_model(api, "file", os.stat_result((0,) * 10), writable=True)
    model["created"] = now
    model["last_modified"] = now
    model["size"] = size
    return model
