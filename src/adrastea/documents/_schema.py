"""Fast nbformat v4 validation without importing ``nbformat``.

Importing nbformat pulls in jsonschema and its format checkers, which costs
seconds on a machine where ``rfc3987-syntax`` is installed (it compiles lark
grammars at import).  We validate against nbformat's own schema files with
fastjsonschema instead, which is what nbformat itself prefers when available.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from adrastea.errors import InvalidNotebook

__all__ = ["parse_notebook", "validate_notebook"]


def _schema_dir() -> Path:
    # find_spec locates the package without executing nbformat/__init__.py.
    spec = importlib.util.find_spec("nbformat")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nbformat is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "v4"


@cache
def _validator(minor: int) -> Callable[[Any], Any]:
    import fastjsonschema

    path = _schema_dir() / f"nbformat.v4.{minor}.schema.json"
    if not path.is_file():
        path = _schema_dir() / "nbformat.v4.schema.json"
    compiled: Callable[[Any], Any] = fastjsonschema.compile(json.loads(path.read_text()))
    return compiled


def validate_notebook(nb: Any) -> None:
    """Check ``nb`` (a parsed ``.ipynb``) against nbformat's v4 schema.

    Raises:
        InvalidNotebook: with the schema's message, e.g. which field is wrong.
    """
    import fastjsonschema

    if not isinstance(nb, dict):
        raise InvalidNotebook("a notebook must be a JSON object")
    if nb.get("nbformat") != 4:
        raise InvalidNotebook(f"unsupported nbformat {nb.get('nbformat')!r}; only 4 is supported")
    minor = nb.get("nbformat_minor")
    if not isinstance(minor, int) or minor < 0:
        raise InvalidNotebook("nbformat_minor must be a non-negative integer")
    try:
        _validator(min(minor, 5))(nb)
    except fastjsonschema.JsonSchemaException as exc:
        raise InvalidNotebook(f"invalid notebook: {exc.message}") from exc


def parse_notebook(data: str | bytes) -> dict[str, Any]:
    """Parse and validate ``.ipynb`` text.

    Raises:
        InvalidNotebook: not JSON, or not a valid nbformat 4 notebook.
    """
    try:
        nb = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidNotebook(f"not valid JSON: {exc}") from exc
    validate_notebook(nb)
    assert isinstance(nb, dict)
    return nb
