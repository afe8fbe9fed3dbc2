"""Notebook files: check, serialise and read ``.ipynb`` with nbformat.

Saving is strict: content that is not JSON, not nbformat 4, or fails schema
validation is refused with ``InvalidNotebook`` before anything is written.
Reading is lenient, as in Jupyter Server: a notebook that parses but does not
validate is still served, with the validation problem in the model's
``message``.  Serialisation is nbformat's own (sorted keys, indent 1, split
lines, transient fields stripped), so files stay byte-compatible with Jupyter.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
import nbformat.reader
import nbformat.v4
from nbformat.validator import iter_validate

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
    return _serialise(nbformat.v4.new_notebook())


def read_notebook(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Parse notebook file bytes into (content as nbformat 4, validation message or None).

    Older major versions are converted to 4, as Jupyter does on read.

    Raises:
        InvalidNotebook: not JSON, or not readable as any nbformat version.
    """
    try:
        notebook = nbformat.reader.reads(raw.decode("utf-8"))
        if notebook.get("nbformat") != nbformat.v4.nbformat:
            notebook = nbformat.convert(notebook, nbformat.v4.nbformat)
    except Exception as exc:  # nbformat raises many kinds; all mean "unreadable"
        raise InvalidNotebook(f"unreadable notebook: {exc}") from exc
    return notebook, validation_problem(notebook)


def validation_problem(content: dict[str, Any]) -> str | None:
    """Why ``content`` is not a valid nbformat 4 notebook, or None if it is.

    Uses nbformat's schema without its ``validate()`` normalisation step,
    which would silently invent missing cell ids and mutate the input.
    """
    major, minor = content.get("nbformat"), content.get("nbformat_minor")
    if major != nbformat.v4.nbformat or not isinstance(minor, int) or isinstance(minor, bool):
        return (
            f"only nbformat 4 notebooks can be saved: nbformat={major!r}, nbformat_minor={minor!r}"
        )
    for error in iter_validate(content):
        where = "/".join(str(part) for part in getattr(error, "absolute_path", ()))
        return _clip(f"notebook does not validate at {where or 'top level'}: {error.message}")
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
    text: str = nbformat.v4.writes(nbformat.from_dict(content))
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_DETAIL else message[: _MAX_DETAIL - 1] + "…"
