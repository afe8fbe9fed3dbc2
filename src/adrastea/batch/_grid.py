"""Sweep grids: parsed from ``--grid NAME=V1,V2`` and YAML files, expanded to points.

A grid maps each swept name to its list of values.  By default the points are
the cartesian product, the first name varying slowest (``itertools.product``
order); with ``zip`` the i-th point takes the i-th value of every list.
"""

from __future__ import annotations

import builtins  # ``expand_grid``'s ``zip`` flag hides the builtin
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from adrastea.batch._parameters import check_name, load_yaml_mapping, resolve_type
from adrastea.errors import ParameterError

Grid = dict[str, list[Any]]

# A slug keeps file names portable: no separators, no spaces, no shell specials.
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_SLUG = 80


def parse_grid_option(option: str) -> tuple[str, list[Any]]:
    """Parse one ``NAME=V1,V2,...`` option; each value is typed like ``-p``.

    Values cannot contain commas; put such values in a grid file.

    Raises:
        ParameterError: no ``=``, or NAME is not an identifier.
    """
    name, sep, values = option.partition("=")
    if not sep:
        raise ParameterError(f"grid option {option!r} must look like NAME=V1,V2,...")
    check_name(name.strip(), source="grid")
    return name.strip(), [resolve_type(value) for value in values.split(",")]


def load_grid_file(path: str | Path) -> Grid:
    """Read a YAML grid file: a mapping of names to non-empty lists of values.

    Raises:
        ParameterError: the file is bad, or a value is not a non-empty list.
    """
    data = load_yaml_mapping(path, what="grid file")
    for name, values in data.items():
        if not isinstance(values, list):
            raise ParameterError(
                f"grid file {str(path)!r}: {name!r} must be a list of values, "
                f"not {type(values).__name__}"
            )
    return {name: list(values) for name, values in data.items()}


def build_grid(options: Iterable[str] = (), *, files: Iterable[str | Path] = ()) -> Grid:
    """Merge grid files, then ``--grid`` options, into one grid.

    An option replaces a file's list for the same name (as ``-p`` overrides
    ``-f``); naming the same parameter in two options is an error.

    Raises:
        ParameterError: a bad option or file, a repeated option, an empty list,
            or an empty grid.
    """
    grid: Grid = {}
    for path in files:
        grid.update(load_grid_file(path))
    seen: set[str] = set()
    for option in options:
        name, values = parse_grid_option(option)
        if name in seen:
            raise ParameterError(f"grid parameter {name!r} is given more than once")
        seen.add(name)
        grid[name] = values
    if not grid:
        raise ParameterError("the grid is empty: give --grid NAME=V1,V2,... or a grid file")
    for name, values in grid.items():
        if not values:
            raise ParameterError(f"grid parameter {name!r} has no values")
    return grid


def expand_grid(grid: Mapping[str, Sequence[Any]], *, zip: bool = False) -> list[dict[str, Any]]:
    """The grid's points in order: the cartesian product, or the lists zipped.

    Raises:
        ParameterError: with ``zip``, lists of different lengths; an empty list.
    """
    names = list(grid)
    lists = [list(grid[name]) for name in names]
    for name, values in builtins.zip(names, lists, strict=True):
        if not values:
            raise ParameterError(f"grid parameter {name!r} has no values")
    if zip:
        lengths = {len(values) for values in lists}
        if len(lengths) > 1:
            counts = ", ".join(
                f"{n} has {len(v)}" for n, v in builtins.zip(names, lists, strict=True)
            )
            raise ParameterError(f"--zip needs lists of the same length: {counts}")
        rows: Iterable[tuple[Any, ...]] = builtins.zip(*lists, strict=True)
    else:
        rows = itertools.product(*lists)
    return [dict(builtins.zip(names, row, strict=True)) for row in rows]


def _slug_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | dict):
        text = json.dumps(value, separators=(",", ":"), default=str)
    else:
        text = str(value)  # True, None, repr of a float
    return _UNSAFE.sub("_", text)


def params_slug(params: Mapping[str, Any], *, max_length: int = MAX_SLUG) -> str:
    """A file-name-safe ``a=1,b=x`` rendering of ``params``, at most ``max_length`` long.

    Characters outside ``[A-Za-z0-9._+-]`` in values become ``_``; a slug that is
    too long is cut and ends with a hash of the full parameters, so two long
    slugs that share a prefix still differ.
    """
    slug = ",".join(f"{name}={_slug_value(value)}" for name, value in params.items())
    if len(slug) <= max_length:
        return slug
    digest = hashlib.sha1(
        json.dumps(params, sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()[:8]
    return f"{slug[: max_length - 9]}~{digest}"


def task_filename(index: int, params: Mapping[str, Any], *, total: int = 0) -> str:
    """The output notebook's name for task ``index``: ``003-alpha=0.1,n=5.ipynb``.

    The index is zero-padded to at least three digits, or to the width of
    ``total - 1`` for bigger sweeps, so names sort in task order.
    """
    width = max(3, len(str(max(total - 1, 0))))
    slug = params_slug(params)
    return f"{index:0{width}d}-{slug}.ipynb" if slug else f"{index:0{width}d}.ipynb"
