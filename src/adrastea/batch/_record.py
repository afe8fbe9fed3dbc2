"""Named results recorded by a notebook, and read back from its saved outputs.

``record("loss", 0.12)`` in a notebook emits a display output whose bundle has
our own mime type (``{"name": ..., "value": ...}``) and a ``text/plain`` line, so
plain Jupyter shows something sensible and the value survives in the ``.ipynb``
for ``collect`` to read.  This module imports IPython only when ``record`` is
called, so importing it stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import math
import reprlib
from collections.abc import Mapping
from typing import Any

RECORD_MIME = "application/vnd.adrastea.record+json"

# JSON has no NaN or infinity (and the Jupyter wire protocol refuses them), so a
# non-finite float travels as a string; at the top level a flag says to turn it
# back into a float, nested ones stay strings.
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


def _jsonable(value: Any, path: str) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else _NONFINITE[repr(float(value))]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool):
                raise TypeError(f"record {path}: key {key!r} is not a string")
            out[key if isinstance(key, str) else json.dumps(key)] = _jsonable(
                item, f"{path}[{key!r}]"
            )
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{path}[{i}]") for i, item in enumerate(value)]
    # numpy arrays and scalars (and pandas' wrappers of them) know how to become
    # plain Python; we duck-type rather than depend on numpy.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _jsonable(tolist(), path)
    raise TypeError(f"record {path}: a {type(value).__name__} cannot be stored as JSON")


def record_bundle(name: str, value: Any) -> dict[str, Any]:
    """The display bundle ``record`` emits: our JSON payload and a text fallback.

    Raises:
        TypeError: ``name`` is not a string, or ``value`` is not JSON-like (None,
            bool, int, float, str, lists/tuples and string-keyed mappings of
            those, or objects with numpy's ``tolist``).
        ValueError: ``name`` is empty.
    """
    if not isinstance(name, str):
        raise TypeError(f"record name must be a string, not {type(name).__name__}")
    if not name:
        raise ValueError("record name must not be empty")
    payload: dict[str, Any] = {"name": name, "value": _jsonable(value, repr(name))}
    top = value
    if not isinstance(value, float) and callable(getattr(value, "tolist", None)):
        top = value.tolist()  # a numpy float32 scalar, say
    if isinstance(top, float) and not math.isfinite(top):
        payload["nonfinite"] = True
    return {RECORD_MIME: payload, "text/plain": f"{name} = {_short.repr(value)}"}


def record(name: str, value: Any) -> None:
    """Record a named result of this notebook run, for ``adrastea collect``.

    Call it in a notebook cell; the value is kept in the saved notebook as a
    display output and the last value recorded under a name wins.  Outside
    IPython it prints the text fallback instead.

    Raises:
        TypeError, ValueError: as ``record_bundle``; nothing is displayed then.
    """
    bundle = record_bundle(name, value)
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    if not InteractiveShell.initialized():
        print(bundle["text/plain"])
        return
    display(bundle, raw=True)  # type: ignore[no-untyped-call]


def _payload(data: Any) -> Mapping[str, Any] | None:
    if isinstance(data, str):
        # Some writers store JSON mime data as text rather than as an object.
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if isinstance(data, Mapping) and isinstance(data.get("name"), str):
        return data
    return None


def read_records(nb: Mapping[str, Any]) -> dict[str, Any]:
    """The values an executed notebook recorded, by name; the last one wins.

    Reads ``display_data`` and ``execute_result`` outputs of code cells in order;
    malformed payloads are skipped, since a notebook is untrusted input.
    """
    records: dict[str, Any] = {}
    for cell in nb.get("cells") or ():
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or ():
            if not isinstance(output, Mapping) or output.get("output_type") not in (
                "display_data",
                "execute_result",
            ):
                continue
            payload = _payload((output.get("data") or {}).get(RECORD_MIME))
            if payload is None:
                continue
            value = payload.get("value")
            if payload.get("nonfinite") and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = float(value)
            records[payload["name"]] = value
    return records
