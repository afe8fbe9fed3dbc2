"""nbformat's JSON schema, checked without importing nbformat.

``import nbformat`` imports jsonschema and its format checkers, which takes
seconds on machines with ``rfc3987-syntax`` installed.  nbformat itself checks
notebooks with fastjsonschema (its default validator) against the schema files
it ships; we load the same files and compile them the same way, so a notebook
is valid here exactly when ``nbformat.validate`` accepts it.

fastjsonschema reports a bad cell or output only as "must be valid exactly by
one definition"; on failure we check the offending cell (and output) against
the definition for its type to say what is actually wrong.

Speed: for that "one of" fastjsonschema tries every cell (and output)
definition in turn and builds an exception for each that does not apply,
which is most of the time it spends on a big notebook.  The schema decides
between them by the ``cell_type`` (``output_type``) field alone, each
definition requiring its own single value, so :func:`check_schema` first
checks each part against the definition its type names (:class:`_Parts`); a
notebook valid that way is valid under the whole schema.  Anything else goes
through the whole schema, which has the last word and gives the message.
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
    parts = _parts(minor)
    if parts is not None and parts.valid(nb):
        return
    try:
        _validator(minor, None)(nb)
    except fastjsonschema.JsonSchemaException as exc:
        raise InvalidNotebook(_explain(nb, minor, exc)[:_MAX_DETAIL]) from exc


def compile_validators() -> None:
    """Compile the v4.4 and v4.5 validators now (about 0.3 s), not in the first open.

    Blocking; a server calls it in a thread at start.
    """
    for minor in (4, _LATEST_MINOR):
        _validator(minor, None)
        _parts(minor)


class _Parts:
    """The schema applied part by part: the notebook with any object as a cell, then each
    cell by its type's definition with any object as an output, then each output."""

    def __init__(self, minor: int) -> None:
        anything = {"type": "object"}
        self._notebook = _compile(minor, None, cell=anything)
        self._cells = {
            kind: _compile(minor, name, output=anything) for kind, name in _CELL_DEFINITIONS.items()
        }
        self._outputs = {kind: _compile(minor, name) for kind, name in _OUTPUT_DEFINITIONS.items()}

    def valid(self, nb: Any) -> bool:
        try:
            self._notebook(nb)
            for cell in nb["cells"]:
                self._cells[cell.get("cell_type")](cell)
                if cell["cell_type"] == "code":
                    for output in cell["outputs"]:
                        self._outputs[output.get("output_type")](output)
        except (fastjsonschema.JsonSchemaException, KeyError, TypeError):
            return False  # not a known type: the whole schema says what is wrong
        return True


@cache
def _parts(minor: int) -> _Parts | None:
    """The part-by-part validators, if this schema's cells and outputs are exactly a
    choice between the definitions of :data:`_CELL_DEFINITIONS` (:data:`_OUTPUT_DEFINITIONS`),
    each requiring its own single ``cell_type`` (``output_type``) value."""
    schema = _schema(minor)
    definitions = schema["definitions"]
    text = json.dumps(schema)
    for union, key, kinds in (
        ("cell", "cell_type", _CELL_DEFINITIONS),
        ("output", "output_type", _OUTPUT_DEFINITIONS),
    ):
        choice = sorted(f"#/definitions/{name}" for name in kinds.values())
        found = definitions.get(union, {})
        if set(found) != {"type", "oneOf"} or found["type"] != "object":
            return None
        if sorted(branch.get("$ref", "") for branch in found["oneOf"]) != choice:
            return None
        if text.count(f'"#/definitions/{union}"') != 1:  # only as cells' (outputs') items
            return None
        for kind, name in kinds.items():
            definition = definitions[name]
            if key not in definition.get("required", []):
                return None
            if definition.get("properties", {}).get(key, {}).get("enum") != [kind]:
                return None
    return _Parts(minor)


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
    return _compile(minor, definition)


def _compile(minor: int, definition: str | None, **replaced: dict[str, Any]) -> Validator:
    """The validator of the whole schema or one ``definition`` of it, with the
    ``replaced`` definitions swapped for others."""
    schema = _schema(minor)
    definitions = {**schema["definitions"], **replaced}
    if definition is not None:
        schema = {"$schema": schema.get("$schema"), "$ref": f"#/definitions/{definition}"}
    compiled: Validator = fastjsonschema.compile({**schema, "definitions": definitions})
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
