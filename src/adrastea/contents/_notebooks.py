"""Notebook files: check, serialise and read ``.ipynb`` (nbformat's rules, fast).

Saving is strict: content that is not JSON, not nbformat 4, or fails schema
validation is refused with ``InvalidNotebook`` before anything is written
(missing or duplicate cell ids of a 4.5+ notebook included: nothing is
silently invented).  Reading is lenient, as in Jupyter Server: a notebook that
parses but does not validate is still served, with the validation problem in
the model's ``message``.  Serialisation is nbformat's exact layout (sorted
keys, indent 1, split lines), so files stay byte-compatible with Jupyter.

The checks use nbformat's own schema files through ``adrastea.documents``
rather than ``import nbformat``, which costs seconds on some machines.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

from adrastea.documents import encode_notebook, parse_notebook
from adrastea.documents._ipynb import rejoin_lines
from adrastea.documents._validation import check_schema
from adrastea.errors import InvalidNotebook

__all__ = ["empty_notebook", "notebook_bytes", "read_notebook"]

# Schema messages quote the offending value, which may be a whole cell with outputs.
_MAX_DETAIL = 600


def notebook_bytes(content: Any) -> bytes:
    """The file bytes for notebook ``content`` (a dict, or its JSON text).

    Raises:
        InvalidNotebook: not JSON, not an nbformat 4 notebook, or invalid;
            the detail says where and why.
    """
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError as exc:
            raise InvalidNotebook(f"notebook content is not valid JSON: {exc}") from exc
    if not isinstance(content, dict):
        raise InvalidNotebook("notebook content must be a JSON object (an nbformat 4 notebook)")
    problem = validation_problem(content)
    if problem is not None:
        raise InvalidNotebook(problem)
    return _serialise(content)


def empty_notebook() -> bytes:
    """The bytes of a new, empty notebook of the current nbformat."""
    return _serialise({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def read_notebook(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Parse notebook file bytes into (content as nbformat 4, validation message or None).

    Older major versions are converted to 4, as Jupyter does on read.

    Raises:
        InvalidNotebook: not JSON, or not readable as any nbformat version.
    """
    try:
        return parse_notebook(raw), None
    except InvalidNotebook as exc:
        problem = _clip(exc.detail)
    try:
        notebook = json.loads(raw)
    except ValueError as exc:
        raise InvalidNotebook(f"unreadable notebook: {exc}") from exc
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        raise InvalidNotebook(f"unreadable notebook: {problem}")
    # Too broken to tidy up: served as it is, with the message.
    with contextlib.suppress(AttributeError, KeyError, TypeError):
        rejoin_lines(notebook)
    return notebook, problem


def validation_problem(content: dict[str, Any]) -> str | None:
    """Why ``content`` is not a valid nbformat 4 notebook, or None if it is.

    Never mutates ``content`` and never invents missing cell ids.
    """
    major, minor = content.get("nbformat"), content.get("nbformat_minor")
    if major != 4 or not isinstance(minor, int) or isinstance(minor, bool):
        return (
            f"only nbformat 4 notebooks can be saved: nbformat={major!r}, nbformat_minor={minor!r}"
        )
    try:
        check_schema(copy.deepcopy(content), minor)
    except InvalidNotebook as exc:
        return _clip(exc.detail)
    if minor >= 5:
        seen: set[str] = set()
        for index, cell in enumerate(content["cells"]):
            if cell["id"] in seen:
                return (
                    f"notebook does not validate at cells/{index}: duplicate cell id {cell['id']!r}"
                )
            seen.add(cell["id"])
    return None


def _serialise(content: dict[str, Any]) -> bytes:
    return "".join(encode_notebook(content)).encode("utf-8")


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_DETAIL else message[: _MAX_DETAIL - 1] + "…"
