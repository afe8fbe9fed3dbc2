"""Merging a whole notebook into a live document, touching only what changed.

Used when a client without Y (a REST ``PUT``) saves a notebook that is open
live, and when the file changed on disk and the live document follows it.
Cells are matched by id; a matched cell keeps its Y structures (so editors
keep their cursors) and only changed fields are rewritten: the source by a
minimal text splice, metadata key by key.  Cells that moved are re-created at
their new place (moving Y items is not understood by the yjs versions
browsers run); cells that vanished are deleted; new cells are inserted.

Incoming cells without ids (v4.0-4.4 notebooks) are matched to live cells by
position and content (``difflib``) and inherit the live ids.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Array, Map, Text

from adrastea.documents._ynotebook import (
    cell_from_y,
    new_cell_id,
    new_ycell,
    new_youtput,
    ymeta,
)

__all__ = ["merge_notebook"]

Outputs = list[dict[str, Any]]


def merge_notebook(
    notebook: YNotebook,
    nb: Mapping[str, Any],
    *,
    full_outputs: Callable[[Outputs], Outputs],
    prepare_outputs: Callable[[Outputs], Outputs],
) -> None:
    """Make ``notebook`` hold ``nb`` (in-memory form, validated) in one transaction.

    ``full_outputs`` turns live outputs (possibly capped stand-ins) into full
    ones so they can be compared with ``nb``'s; ``prepare_outputs`` turns
    ``nb``'s outputs into what the document should hold (capping them).  It is
    only called for cells whose outputs changed.
    """
    with notebook.ydoc.transaction():
        _merge_meta(notebook, nb)
        live_ids = [ycell.get("id") for ycell in notebook.ycells]
        incoming = _with_ids(notebook, live_ids, list(nb.get("cells", [])))
        kept = _kept_in_place(live_ids, [cell["id"] for cell in incoming])
        cells = notebook.ycells
        for index in reversed(range(len(live_ids))):
            if index not in kept:
                del cells[index]
        for index, cell in enumerate(incoming):
            if index < len(cells) and cells[index].get("id") == cell["id"]:
                if not _update_cell(cells[index], cell, full_outputs, prepare_outputs):
                    cells[index] = _prepared(cell, prepare_outputs)
            else:
                cells.insert(index, _prepared(cell, prepare_outputs))
        del cells[len(incoming) :]


def _prepared(cell: dict[str, Any], prepare: Callable[[Outputs], Outputs]) -> Map[Any]:
    if cell.get("cell_type") == "code":
        cell = {**cell, "outputs": prepare(list(cell.get("outputs", [])))}
    return new_ycell(cell)


def _merge_meta(notebook: YNotebook, nb: Mapping[str, Any]) -> None:
    meta = ymeta(notebook)
    for key in ("nbformat", "nbformat_minor"):
        if key in nb and meta.get(key) != nb[key]:
            meta[key] = nb[key]
    metadata = dict(nb.get("metadata", {}))
    ymetadata = meta.get("metadata")
    if not isinstance(ymetadata, Map):
        meta["metadata"] = Map(metadata)
    else:
        _merge_map(ymetadata, metadata)


def _merge_map(ymap: Map[Any], values: Mapping[str, Any]) -> None:
    current = ymap.to_py() or {}
    for key in [k for k in current if k not in values]:
        del ymap[key]
    for key, value in values.items():
        if key not in current or current[key] != value:
            ymap[key] = value


def _with_ids(
    notebook: YNotebook, live_ids: list[Any], cells: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``cells`` with an id each; id-less ones take the id of the live cell they match."""
    if all("id" in cell for cell in cells):
        return cells
    live = [cell_from_y(ycell) for ycell in notebook.ycells]
    taken = {cell["id"] for cell in cells if "id" in cell}
    matched: dict[int, str] = {}
    matcher = difflib.SequenceMatcher(
        a=[_signature(cell) for cell in live],
        b=[_signature(cell) for cell in cells],
        autojunk=False,
    )
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and a1 - a0 == b1 - b0):
            for a, b in zip(range(a0, a1), range(b0, b1), strict=True):
                live_id = live_ids[a]
                if "id" not in cells[b] and isinstance(live_id, str) and live_id not in taken:
                    matched[b] = live_id
                    taken.add(live_id)
    result = []
    for index, cell in enumerate(cells):
        if "id" not in cell:
            cell = {**cell, "id": matched.get(index) or new_cell_id()}
        result.append(cell)
    return result


def _signature(cell: Mapping[str, Any]) -> tuple[Any, Any]:
    return cell.get("cell_type"), cell.get("source")


def _kept_in_place(live_ids: list[Any], new_ids: list[str]) -> set[int]:
    """Live positions of the cells that can stay: the longest run that keeps its order."""
    position: dict[str, int] = {}
    for index, cell_id in enumerate(live_ids):
        if isinstance(cell_id, str):
            position.setdefault(cell_id, index)  # a duplicated id keeps its first cell only
    sequence = [position[cell_id] for cell_id in new_ids if cell_id in position]
    return set(_longest_increasing(sequence))


def _longest_increasing(sequence: list[int]) -> list[int]:
    tails: list[int] = []
    tail_index: list[int] = []
    parent = [-1] * len(sequence)
    for i, value in enumerate(sequence):
        k = bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
            tail_index.append(i)
        else:
            tails[k] = value
            tail_index[k] = i
        parent[i] = tail_index[k - 1] if k else -1
    result = []
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        result.append(sequence[i])
        i = parent[i]
    return result[::-1]


def _update_cell(
    ycell: Map[Any],
    cell: dict[str, Any],
    full_outputs: Callable[[Outputs], Outputs],
    prepare_outputs: Callable[[Outputs], Outputs],
) -> bool:
    """Update ``ycell`` in place to hold ``cell``; False if it must be re-created instead."""
    if ycell.get("cell_type") != cell.get("cell_type"):
        return False
    source = ycell.get("source")
    metadata = ycell.get("metadata")
    if not isinstance(source, Text) or not isinstance(metadata, Map):
        return False
    _splice_text(source, cell.get("source", ""))
    _merge_map(metadata, dict(cell.get("metadata", {})))
    for key in ("execution_count", "attachments"):
        if key in cell:
            if ycell.get(key) != cell[key] or key not in ycell:
                ycell[key] = cell[key]
        elif key in ycell:
            del ycell[key]
    if cell.get("cell_type") == "code":
        youtputs = ycell.get("outputs")
        if not isinstance(youtputs, Array):
            return False
        live = [_output_from_y(o) for o in youtputs]
        incoming = list(cell.get("outputs", []))
        if not _same_outputs(live, incoming, full_outputs):
            youtputs.clear()
            youtputs.extend([new_youtput(o) for o in prepare_outputs(incoming)])
    return True


def _output_from_y(youtput: Any) -> dict[str, Any]:
    if isinstance(youtput, Map):
        output: dict[str, Any] = youtput.to_py() or {}
        return output
    return dict(youtput) if isinstance(youtput, dict) else {}


def _same_outputs(
    live: Outputs, incoming: Outputs, full_outputs: Callable[[Outputs], Outputs]
) -> bool:
    if len(live) != len(incoming):
        return False
    pairs = zip(live, incoming, strict=True)
    if any(a.get("output_type") != b.get("output_type") for a, b in pairs):
        return False
    same: bool = _numbers_as_json(full_outputs(live)) == _numbers_as_json(incoming)
    return same


def _numbers_as_json(value: Any) -> Any:
    # Y hands numbers back as floats; compare as the file would hold them.
    if isinstance(value, dict):
        return {k: _numbers_as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_json(v) for v in value]
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _splice_text(ytext: Text, new: str) -> None:
    old = str(ytext)
    if old == new:
        return
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    # pycrdt indexes Text by UTF-8 bytes.
    byte_start = len(old[:start].encode())
    byte_end = byte_start + len(old[start:end_old].encode())
    if byte_end > byte_start:
        del ytext[byte_start:byte_end]
    if end_new > start:
        ytext.insert(byte_start, new[start:end_new])
