"""Notebook dicts in and out of a ``jupyter_ydoc.YNotebook``, losslessly.

The Y layout is jupyter_ydoc's (what JupyterLab's collaboration speaks): root
``meta`` Map (``nbformat``, ``nbformat_minor``, ``metadata`` Map) and root
``cells`` Array of cell Maps whose ``source`` is a Text, ``metadata`` a Map and,
for code cells, ``outputs`` an Array of output Maps (a stream's ``text`` is a
Text).  Unlike ``YNotebook.set``/``get`` this module adds no default metadata,
keeps empty attachments, and never drops or renames cells.

Two limits of the Y model, shared with JupyterLab: numbers are IEEE doubles,
so an integral float comes back as an int (``2.0`` → ``2``, equal in Python)
and integers beyond 2**53 lose precision.

Cell ids: every cell in the live document has an id (collaboration and
per-cell merging need one).  Cells of a v4.0-4.4 notebook, which has no ids,
get fresh ids when loaded, and :func:`dump_notebook` strips ids again for
minor versions below 5, so the file keeps its version and round-trips exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, Map, Text, UndoManager

from adrastea.documents._validation import new_cell_id
from adrastea.documents._yupdate import notebook_update

__all__ = [
    "build_notebook",
    "cell_from_y",
    "dump_notebook",
    "find_cell",
    "load_notebook",
    "new_cell_id",
    "new_ycell",
    "new_ynotebook",
    "new_youtput",
    "repair_ids",
    "ymeta",
]


def new_ynotebook(ydoc: Doc[Any] | None = None) -> YNotebook:
    """A ``YNotebook`` fit for a long-lived server document.

    jupyter_ydoc gives every ``YNotebook`` an undo manager scoped to its cells.
    On the server nobody undoes, and a scoped undo manager keeps every deleted
    item alive (yrs cannot garbage-collect what it might restore), so a stream
    sliding through its capped tail would grow memory by its full size.  This
    one's undo manager has no scope and keeps nothing.
    """
    notebook = YNotebook(ydoc)
    notebook._undo_manager = UndoManager(capture_timeout_millis=0)
    return notebook


def ymeta(notebook: YNotebook) -> Map[Any]:
    """The root ``meta`` Map of ``notebook``."""
    meta: Map[Any] = notebook.ydoc.get("meta", type=Map)
    return meta


def new_youtput(output: Mapping[str, Any]) -> Map[Any]:
    """A prelim output Map; a stream's text becomes a Text so it can grow in place."""
    fields = dict(output)
    if fields.get("output_type") == "stream":
        text = fields.get("text", "")
        fields["text"] = Text(text if isinstance(text, str) else "".join(text))
    return Map(fields)


def new_ycell(cell: Mapping[str, Any]) -> Map[Any]:
    """A prelim cell Map for ``cell`` (in-memory form); an id is added if it has none."""
    fields = dict(cell)
    if "id" not in fields:
        fields["id"] = new_cell_id()  # not setdefault: a uuid4 costs 0.1 ms here
    source = fields.get("source", "")
    fields["source"] = Text(source if isinstance(source, str) else "".join(source))
    fields["metadata"] = Map(dict(fields.get("metadata", {})))
    if fields.get("cell_type") == "code":
        fields["outputs"] = Array([new_youtput(o) for o in fields.get("outputs", [])])
        # JupyterLab reads this to show a running cell; it never reaches the file.
        fields["execution_state"] = "idle"
    return Map(fields)


def cell_from_y(ycell: Map[Any], *, keep_id: bool = True) -> dict[str, Any]:
    """The cell in ``ycell`` as an nbformat dict (in-memory form)."""
    cell: dict[str, Any] = ycell.to_py() or {}
    cell.pop("execution_state", None)
    if not keep_id:
        cell.pop("id", None)
    _ints_back(cell)
    return cell


def load_notebook(notebook: YNotebook, nb: Mapping[str, Any]) -> None:
    """Replace the whole content of ``notebook`` with ``nb`` in one transaction."""
    with notebook.ydoc.transaction():
        meta = ymeta(notebook)
        meta["nbformat"] = nb.get("nbformat", 4)
        meta["nbformat_minor"] = nb.get("nbformat_minor", 5)
        meta["metadata"] = Map(dict(nb.get("metadata", {})))
        cells = notebook.ycells
        cells.clear()
        cells.extend([new_ycell(cell) for cell in nb.get("cells", [])])


def build_notebook(nb: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[YNotebook, bytes]:
    """A new ``YNotebook`` (see :func:`new_ynotebook`) holding ``nb``, with ``state`` in
    its state map, and the update it was built from: the whole document.

    Same document as :func:`load_notebook` into a new one, built several times
    faster (see ``_yupdate``).
    """
    notebook = new_ynotebook()
    try:
        update = notebook_update(nb, notebook.ydoc.client_id, state)
    except (TypeError, ValueError, OverflowError):
        # Not plain JSON data: the prelims say what is wrong with it.
        load_notebook(notebook, nb)
        for key, value in state.items():
            notebook.ystate[key] = value
        return notebook, notebook.ydoc.get_update()
    notebook.ydoc.apply_update(update)
    return notebook, update


def dump_notebook(notebook: YNotebook) -> dict[str, Any]:
    """The live content of ``notebook`` as an nbformat dict (outputs as they are in the doc)."""
    meta = ymeta(notebook).to_py() or {}
    major = int(meta.get("nbformat", 4))
    minor = int(meta.get("nbformat_minor", 5))
    keep_ids = (major, minor) >= (4, 5)
    metadata = meta.get("metadata") or {}
    _ints_back(metadata)
    return {
        "cells": [cell_from_y(ycell, keep_id=keep_ids) for ycell in notebook.ycells],
        "metadata": metadata,
        "nbformat": major,
        "nbformat_minor": minor,
    }


def repair_ids(notebook: YNotebook) -> int:
    """Give every cell a unique id (clients may create duplicates); returns how many changed.

    A later duplicate gets the fresh id, so the first cell keeps its identity.
    """
    seen: set[str] = set()
    changed = 0
    with notebook.ydoc.transaction():
        for ycell in notebook.ycells:
            cell_id = ycell.get("id")
            if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
                cell_id = ycell["id"] = new_cell_id()
                changed += 1
            seen.add(cell_id)
    return changed


def find_cell(notebook: YNotebook, cell_id: str, hint: int | None = None) -> int | None:
    """Index of the cell with ``cell_id``, or None; ``hint`` is checked first (O(1) if right)."""
    cells = notebook.ycells
    if hint is not None and 0 <= hint < len(cells) and cells[hint].get("id") == cell_id:
        return hint
    for index, ycell in enumerate(cells):
        if ycell.get("id") == cell_id:
            return index
    return None


def _ints_back(value: Any) -> None:
    # Y stores every number as a double; give integral ones back as ints.
    if isinstance(value, dict):
        for key, item in value.items():
            if type(item) is float and _integral(item):
                value[key] = int(item)
            elif isinstance(item, dict | list):
                _ints_back(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if type(item) is float and _integral(item):
                value[index] = int(item)
            elif isinstance(item, dict | list):
                _ints_back(item)


def _integral(number: float) -> bool:
    return number.is_integer() and abs(number) <= 2**53
