"""nbformat's JSON schema, checked without importing nbformat.

``import nbformat`` imports jsonschema and its format checkers, which takes
seconds on machines with ``rfc3987-syntax`` installed.  nbformat itself checks
notebooks with fastjsonschema (its default validator) against the schema files
it ships; we load the same files and compile them the same way, so a notebook
is valid here exactly when ``nbformat.validate`` accepts it.

fastjsonschema reports a bad cell or output only as "must be valid exactly by
one definition"; on failure we check the offending cell (and output) against
the definition for its type to say what is actually wrong.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema

from adrastea.errors import InvalidNotebook

__all__ = ["check_schema", "compile_validators", "new_cell_id"]

_LATEST_MINOR = 5
_MAX_DETAIL = 2000
_CELL_DEFINITIONS = {"code": "code_cell", "markdown": "markdown_cell", "raw": "raw_cell"}
_OUTPUT_DEFINITIONS = {
    "execute_result": "execute_result",
    "display_data": "display_data",
    "stream": "stream",
    "error": "error",
}

Validator = Callable[..., Any]


def new_cell_id() -> str:
    """A fresh cell id, as nbformat makes them (8 hex digits)."""
    return uuid.uuid4().hex[:8]


def check_schema(nb: dict[str, Any], minor: int) -> None:
    """Validate ``nb`` against the v4.``minor`` schema (the latest one past 4.5).

    Raises:
        InvalidNotebook: with the schema's message and where it applies.
    """
    try:
        _validator(minor, None)(nb)
    except fastjsonschema.JsonSchemaException as exc:
        raise InvalidNotebook(_explain(nb, minor, exc)[:_MAX_DETAIL]) from exc


def compile_validators() -> None:
    """Compile the v4.4 and v4.5 validators now (about 0.1 s), not in the first open.

    Blocking; a server calls it in a thread at start.
    """
    _validator(4, None)
    _validator(_LATEST_MINOR, None)


@cache
def _schema(minor: int) -> dict[str, Any]:
    spec = importlib.util.find_spec("nbformat")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nbformat is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "v4"
    name = (
        f"nbformat.v4.{minor}.schema.json" if minor <= _LATEST_MINOR else "nbformat.v4.schema.json"
    )
    schema: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return schema


@cache
def _validator(minor: int, definition: str | None) -> Validator:
    schema = _schema(minor)
    if definition is not None:
        schema = {
            "$schema": schema.get("$schema"),
            "$ref": f"#/definitions/{definition}",
            "definitions": schema["definitions"],
        }
    compiled: Validator = fastjsonschema.compile(schema)
    return compiled


def _explain(nb: dict[str, Any], minor: int, exc: fastjsonschema.JsonSchemaException) -> str:
    message, path = _message(exc)
    if len(path) >= 3 and path[1] == "cells" and path[2].isdigit():
        index = int(path[2])
        cell = nb["cells"][index]
        name = f"cells[{index}]"
        found = _check_part(cell, minor, _CELL_DEFINITIONS, "cell_type", name)
        if found is not None:
            message, path = found
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        if len(path) >= 4 and path[2] == "outputs" and path[3].isdigit() and outputs:
            name = f"{name}.outputs[{path[3]}]"
            output = outputs[int(path[3])]
            found = _check_part(output, minor, _OUTPUT_DEFINITIONS, "output_type", name)
            if found is not None:
                message = found[0]
    if message.startswith("data."):
        message = message[len("data.") :]
    return f"invalid notebook: {message}"


def _check_part(
    part: Any, minor: int, definitions: dict[str, str], key: str, name: str
) -> tuple[str, list[str]] | None:
    kind = part.get(key) if isinstance(part, dict) else None
    if kind not in definitions:
        return f"{name}.{key} must be one of {', '.join(sorted(definitions))}, not {kind!r}", []
    try:
        _validator(minor, definitions[kind])(part, name_prefix=name)
    except fastjsonschema.JsonSchemaException as exc:
        return _message(exc)
    return None


def _message(exc: fastjsonschema.JsonSchemaException) -> tuple[str, list[str]]:
    # fastjsonschema's stubs lack these attributes; they are always set.
    message = getattr(exc, "message", None) or str(exc)
    path = getattr(exc, "path", None) or []
    return str(message), [str(part) for part in path]
