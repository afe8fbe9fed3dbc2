"""Notebook parameters from the command line and YAML files, read as papermill reads them.

``-p NAME VALUE`` guesses the type of VALUE with papermill's rules, ``-r NAME VALUE``
keeps it a string, ``-f FILE`` reads a YAML mapping.  Files are merged first, then
every ``-p``, then every ``-r`` (papermill's order, whatever the order on the
command line), later values replacing earlier ones.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from adrastea.errors import ParameterError


class _NoDatesSafeLoader(yaml.SafeLoader):
    """A SafeLoader that keeps dates as strings.

    papermill's loader does the same: a ``datetime`` has no faithful literal in
    every kernel language, so ``date: 2024-01-01`` reaches the notebook as text.
    """


# Set after the class body: the stubs declare it an instance attribute, but YAML
# reads it from the class.
_NoDatesSafeLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def resolve_type(value: str) -> Any:
    """Guess the type of a ``-p`` value exactly as papermill's CLI does.

    ``True``/``False``/``None`` (exact spelling) become those constants; anything
    ``int()`` accepts becomes an int (so ``" 7"`` and ``"1_000"`` do too), then
    anything ``float()`` accepts becomes a float (``"1e3"``, ``"nan"``, ``"inf"``);
    everything else stays the string it was.
    """
    if value == "True":
        return True
    if value == "False":
        return False
    if value == "None":
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def check_name(name: object, *, source: str = "parameter") -> str:
    """Return ``name`` if it can be assigned in a notebook, else raise ParameterError.

    A name must be a Python identifier and not a keyword: the injected cell
    assigns it, and ``class = 1`` would break the notebook at run time instead of
    being refused here.
    """
    if not isinstance(name, str):
        raise ParameterError(f"{source} name {name!r} is not a string")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(f"{source} name {name!r} is not a valid identifier")
    return name


def load_yaml_mapping(path: str | Path, *, what: str = "parameters file") -> dict[str, Any]:
    """Read a YAML (or JSON) file whose top level is a mapping with identifier keys.

    An empty file is an empty mapping, as in papermill.

    Raises:
        ParameterError: the file is missing or unreadable, is not YAML, is not a
            mapping, or has a key that is not a valid name.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"{what} {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read {what} {str(path)!r}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_NoDatesSafeLoader)
    except yaml.YAMLError as exc:
        # The YAML message spans several lines; keep the first and the position.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ParameterError(f"{what} {str(path)!r} is not valid YAML{where}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            f"{what} {str(path)!r} must hold a mapping of names to values, "
            f"not {type(data).__name__}"
        )
    for name in data:
        check_name(name, source=f"{what} {str(path)!r}: parameter")
    return data


def parse_parameters(
    *,
    values: Iterable[tuple[str, str]] = (),
    raw: Iterable[tuple[str, str]] = (),
    files: Iterable[str | Path] = (),
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge notebook parameters in papermill's order.

    Args:
        values: ``-p NAME VALUE`` pairs; each VALUE goes through ``resolve_type``.
        raw: ``-r NAME VALUE`` pairs, kept as strings.
        files: ``-f FILE`` paths, YAML mappings (lists and dicts allowed as values).
        base: values that everything else overrides (for example a sweep point's
            fixed parameters).

    Returns:
        A new dict in insertion order: ``base``, then files, then ``-p``, then ``-r``.

    Raises:
        ParameterError: a name is not a valid identifier, or a file is bad.
    """
    merged: dict[str, Any] = {}
    if base:
        for name, value in base.items():
            merged[check_name(name)] = value
    for path in files:
        merged.update(load_yaml_mapping(path))
    for name, value in values:
        merged[check_name(name)] = resolve_type(value)
    for name, value in raw:
        merged[check_name(name)] = value
    return merged
