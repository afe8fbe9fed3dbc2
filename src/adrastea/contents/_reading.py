"""Build contents models from disk: directory listings, files, notebooks.

Blocking functions; the manager runs them in a worker thread.  A listing
costs one ``stat`` and one ``access`` per entry and never opens a file, so
large folders list quickly.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from typing import Literal

from adrastea.contents._models import (
    HASH_ALGORITHM,
    ContentsModel,
    ContentsType,
    base_model,
    kind_of,
)
from adrastea.contents._notebooks import read_notebook
from adrastea.contents._oserrors import os_errors
from adrastea.contents._paths import PathGuard, Target
from adrastea.errors import BadEncoding, WrongType

__all__ = ["FileFormat", "entry_model", "read_model"]

FileFormat = Literal["text", "base64"]


def read_model(
    guard: PathGuard,
    target: Target,
    *,
    kind: ContentsType | None = None,
    fmt: FileFormat | None = None,
    content: bool = True,
    require_hash: bool = False,
) -> ContentsModel:
    """The model of ``target``, with content and hash if asked.

    ``kind`` forces how a file is read (``notebook`` parses any file as one,
    ``file`` reads a notebook as text) and must not contradict a directory.
    ``fmt`` applies to files: ``text`` refuses non-UTF-8 bytes, ``None``
    falls back to base64 for them, as Jupyter does.

    Raises:
        FileNotFound, WrongType, BadEncoding, InvalidNotebook.
    """
    with os_errors(target.api):
        info = target.real.stat()
        if stat.S_ISDIR(info.st_mode):
            if kind not in (None, "directory"):
                raise WrongType(f"{target.api!r} is a directory, not a {kind}")
            model = entry_model(target, "directory", info)
            if content:
                model["content"] = _listing(guard, target)
                model["format"] = "json"
            return model
        if not stat.S_ISREG(info.st_mode):
            raise WrongType(f"{target.api!r} is not a regular file or directory")
        if kind == "directory":
            raise WrongType(f"{target.api!r} is not a directory")
        as_notebook = kind == "notebook" or (kind is None and target.api.endswith(".ipynb"))
        model = entry_model(target, "notebook" if as_notebook else "file", info)
        if not content:
            if require_hash:
                with target.real.open("rb") as src:
                    digest = hashlib.file_digest(src, HASH_ALGORITHM).hexdigest()
                model["hash"] = digest
                model["hash_algorithm"] = HASH_ALGORITHM
            return model
        raw = target.real.read_bytes()
    if as_notebook:
        notebook, problem = read_notebook(raw)
        model["content"] = notebook
        model["format"] = "json"
        if problem is not None:
            model["message"] = problem
    else:
        _fill_file_content(model, raw, fmt)
    if require_hash:
        digest = hashlib.new(HASH_ALGORITHM, raw).hexdigest()
        model["hash"] = digest
        model["hash_algorithm"] = HASH_ALGORITHM
    return model


def entry_model(target: Target, kind: ContentsType, info: os.stat_result) -> ContentsModel:
    """The content-less model of ``target``, given its stat."""
    return base_model(target.api, kind, info, writable=os.access(target.real, os.W_OK))


def _fill_file_content(model: ContentsModel, raw: bytes, fmt: FileFormat | None) -> None:
    if fmt in (None, "text"):
        try:
            model["content"] = raw.decode("utf-8")
            model["format"] = "text"
            model["mimetype"] = model["mimetype"] or "text/plain"
            return
        except UnicodeDecodeError as exc:
            if fmt == "text":
                raise BadEncoding(
                    f"{model['path']!r} is not UTF-8 text (invalid byte at offset "
                    f"{exc.start}); ask for format=base64 to get its bytes"
                ) from exc
    model["content"] = base64.b64encode(raw).decode("ascii")
    model["format"] = "base64"
    model["mimetype"] = model["mimetype"] or "application/octet-stream"


def _listing(guard: PathGuard, target: Target) -> list[ContentsModel]:
    prefix = f"{target.api}/" if target.api else ""
    models: list[ContentsModel] = []
    with os.scandir(target.real) as entries:
        for entry in entries:
            info = guard.listed(entry)
            if info is None:
                continue
            kind = kind_of(entry.name, is_dir=stat.S_ISDIR(info.st_mode))
            writable = os.access(entry.path, os.W_OK)
            models.append(base_model(prefix + entry.name, kind, info, writable=writable))
    models.sort(key=lambda model: model["name"])
    return models
