"""Capping outputs for the live document, and putting the full outputs back.

An output over ``cap_bytes`` is spilled (see ``_spill``) and the document
keeps a capped stand-in whose ``metadata["adrastea"]`` is a :class:`SpillMarker`:

- a stream keeps its head and tail with a note between them,
  ``… 9,876,543 bytes (123,456 lines) not shown; full output: <id> …``;
- an error keeps its name, a shortened value and the head and tail of its
  traceback around the note;
- a mime bundle becomes a ``text/plain`` placeholder (keeping the original
  ``text/plain`` when it is small).

Stand-ins exist only in the live document.  Stream and error outputs have no
``metadata`` in the nbformat schema, so a stand-in is not valid nbformat;
every way out to a file or a client goes through :func:`merge_spilled` or
:func:`lazy_spilled`, which restore the full output.

The full text of a spilled stream is ``spill[:committed_bytes]`` followed by
the last ``line_bytes`` bytes of the stand-in's text (the current line, which
``\\r`` may still rewrite and so is not in the append-only file).  Both
numbers are in the marker, so the document alone says which prefix of the
spill file it reflects, even after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from adrastea.documents._ipynb import LazyTexts
from adrastea.documents._spill import SpillStore
from adrastea.documents.types import OutputId
from adrastea.errors import NotFound

__all__ = [
    "MARKER_KEY",
    "SpillMarker",
    "bundle_stand_in",
    "cap_notebook",
    "cap_output",
    "head_text",
    "lazy_spilled",
    "merge_output",
    "merge_spilled",
    "spilled_ids",
    "stream_budgets",
    "stream_note",
    "tail_text",
]

MARKER_KEY = "adrastea"
_NOTE_RESERVE = 256


@dataclass(frozen=True)
class SpillMarker:
    """What the live document knows about a spilled output."""

    output_id: OutputId
    kind: Literal["stream", "output"]
    total_bytes: int
    total_lines: int = 0
    committed_bytes: int = 0
    line_bytes: int = 0
    spilled: bool = True

    def to_json(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict costs 60 us, and a big notebook has many markers.
        return {
            "output_id": self.output_id,
            "kind": self.kind,
            "total_bytes": self.total_bytes,
            "total_lines": self.total_lines,
            "committed_bytes": self.committed_bytes,
            "line_bytes": self.line_bytes,
            "spilled": self.spilled,
        }

    @classmethod
    def of(cls, output: Mapping[str, Any]) -> SpillMarker | None:
        """The marker of ``output``, or None if it is not a spilled stand-in."""
        metadata = output.get("metadata")
        raw = metadata.get(MARKER_KEY) if isinstance(metadata, Mapping) else None
        if not isinstance(raw, Mapping) or not raw.get("spilled"):
            return None
        try:
            return cls(
                output_id=OutputId(str(raw["output_id"])),
                kind="stream" if raw.get("kind") == "stream" else "output",
                total_bytes=int(raw.get("total_bytes", 0)),
                total_lines=int(raw.get("total_lines", 0)),
                committed_bytes=int(raw.get("committed_bytes", 0)),
                line_bytes=int(raw.get("line_bytes", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


def stream_budgets(cap_bytes: int) -> tuple[int, int]:
    """Bytes of head and of tail a capped stream keeps (their sum leaves room for the note)."""
    half = max(1, (cap_bytes - _NOTE_RESERVE) // 2)
    return half, half


def stream_note(cut_bytes: int, cut_lines: int, output_id: str) -> str:
    """The line standing between head and tail of a capped stream."""
    return f"\n… {cut_bytes:,} bytes ({cut_lines:,} lines) not shown; full output: {output_id} …\n"


def head_text(text: str, budget: int) -> str:
    """The longest start of ``text`` within ``budget`` UTF-8 bytes, cut after a newline if one
    is in its second half."""
    data = text.encode()
    if len(data) <= budget:
        return text
    head = data[:budget].decode(errors="ignore")
    cut = head.rfind("\n")
    return head[: cut + 1] if cut >= len(head) // 2 else head


def tail_text(text: str, budget: int) -> str:
    """The longest end of ``text`` within ``budget`` UTF-8 bytes, starting after a newline if
    one is in its first half."""
    data = text.encode()
    if len(data) <= budget:
        return text
    tail = data[len(data) - budget :].decode(errors="ignore")
    cut = tail.find("\n")
    return tail[cut + 1 :] if 0 <= cut < len(tail) // 2 else tail


def cap_output(output: dict[str, Any], spill: SpillStore, cap_bytes: int) -> dict[str, Any]:
    """``output`` itself if it fits in ``cap_bytes``, else a stand-in (spilling the original).

    Already-capped stand-ins are returned unchanged.
    """
    if SpillMarker.of(output) is not None:
        return output
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        if not isinstance(text, str) or len(text) * 4 <= cap_bytes:
            return output
        if len(text.encode()) <= cap_bytes:
            return output
        return _cap_stream(output, text, spill, cap_bytes)
    size = len(json.dumps(output, ensure_ascii=False).encode())
    if size <= cap_bytes:
        return output
    output_id = spill.new_id()
    spill.write_output(output_id, output)
    marker = SpillMarker(output_id=output_id, kind="output", total_bytes=size)
    if output.get("output_type") == "error":
        return _error_stand_in(output, marker, cap_bytes)
    return bundle_stand_in(output, marker, cap_bytes)


def cap_notebook(nb: Mapping[str, Any], spill: SpillStore, cap_bytes: int) -> dict[str, Any]:
    """``nb`` with every output over ``cap_bytes`` spilled and replaced by its stand-in."""
    return _map_outputs(nb, lambda output: cap_output(output, spill, cap_bytes))


def merge_output(output: dict[str, Any], spill: SpillStore) -> dict[str, Any]:
    """The full output behind a stand-in (``output`` itself if it is not one).

    If the spill file is gone, the stand-in is kept (made schema-valid): its
    note still says what was cut.
    """
    marker = SpillMarker.of(output)
    if marker is None:
        return output
    try:
        if marker.kind == "stream":
            text = "".join(_full_stream_chunks(output, marker, spill))
            return {"output_type": "stream", "name": output.get("name", "stdout"), "text": text}
        return spill.load_output(marker.output_id)
    except NotFound:
        return _orphaned(output)


def merge_spilled(nb: Mapping[str, Any], spill: SpillStore) -> dict[str, Any]:
    """``nb`` with every stand-in replaced by its full output (a valid, complete notebook).

    This holds full outputs in memory; to write a file use :func:`lazy_spilled`.
    """
    return _map_outputs(nb, lambda output: merge_output(output, spill))


def lazy_spilled(nb: Mapping[str, Any], spill: SpillStore) -> tuple[dict[str, Any], LazyTexts]:
    """Like :func:`merge_spilled`, but spilled stream texts become lazy placeholders.

    Pass both to ``write_notebook``: each stream's text is then copied from its
    spill file in chunks while the file is written.  Rich outputs are loaded.
    """
    lazy = LazyTexts()

    def merge(output: dict[str, Any]) -> dict[str, Any]:
        marker = SpillMarker.of(output)
        if marker is None or marker.kind != "stream":
            return merge_output(output, spill)
        if not spill.exists(marker.output_id):
            return _orphaned(output)
        token = lazy.add(lambda: _full_stream_chunks(output, marker, spill))
        return {"output_type": "stream", "name": output.get("name", "stdout"), "text": token}

    return _map_outputs(nb, merge), lazy


def spilled_ids(nb: Mapping[str, Any]) -> set[str]:
    """Ids of every spilled output ``nb`` refers to."""
    ids: set[str] = set()
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            marker = SpillMarker.of(output)
            if marker is not None:
                ids.add(marker.output_id)
    return ids


def _full_stream_chunks(
    output: Mapping[str, Any], marker: SpillMarker, spill: SpillStore
) -> Iterator[str]:
    yield from spill.iter_text(marker.output_id, end=marker.committed_bytes)
    if marker.line_bytes:
        text = output.get("text", "")
        data = text.encode() if isinstance(text, str) else b""
        yield data[len(data) - marker.line_bytes :].decode(errors="replace")


def _cap_stream(
    output: dict[str, Any], text: str, spill: SpillStore, cap_bytes: int
) -> dict[str, Any]:
    output_id = spill.new_id()
    size = spill.write_text(output_id, text)
    head_budget, tail_budget = stream_budgets(cap_bytes)
    head = head_text(text, head_budget)
    tail = tail_text(text, tail_budget)
    lines = text.count("\n")
    cut_bytes = size - len(head.encode()) - len(tail.encode())
    cut_lines = lines - head.count("\n") - tail.count("\n")
    marker = SpillMarker(
        output_id=output_id,
        kind="stream",
        total_bytes=size,
        total_lines=lines,
        committed_bytes=size,
    )
    return {
        "output_type": "stream",
        "name": output.get("name", "stdout"),
        "text": head + stream_note(cut_bytes, cut_lines, output_id) + tail,
        "metadata": {MARKER_KEY: marker.to_json()},
    }


def bundle_stand_in(output: dict[str, Any], marker: SpillMarker, cap_bytes: int) -> dict[str, Any]:
    """The stand-in of a spilled mime bundle: a ``text/plain`` note naming its mime types,
    after the original ``text/plain`` if that is small."""
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    assert isinstance(data, dict)
    note = (
        f"[output of {marker.total_bytes:,} bytes not shown ({', '.join(sorted(data))}); "
        f"full output: {marker.output_id}]"
    )
    plain = data.get("text/plain")
    if isinstance(plain, str) and len(plain.encode()) <= cap_bytes // 2:
        note = f"{plain}\n{note}"
    stand_in: dict[str, Any] = {
        "output_type": output.get("output_type", "display_data"),
        "data": {"text/plain": note},
        "metadata": {MARKER_KEY: marker.to_json()},
    }
    if stand_in["output_type"] == "execute_result":
        stand_in["execution_count"] = output.get("execution_count")
    return stand_in


def _error_stand_in(output: dict[str, Any], marker: SpillMarker, cap_bytes: int) -> dict[str, Any]:
    budget = max(1, (cap_bytes - _NOTE_RESERVE) // 2)
    frames = [str(line) for line in output.get("traceback", [])]
    head = _fit(frames, budget // 2)
    tail = list(reversed(_fit(list(reversed(frames[len(head) :])), budget // 2)))
    cut = len(frames) - len(head) - len(tail)
    note = (
        f"… {cut:,} traceback lines ({marker.total_bytes:,} bytes in all) not shown; "
        f"full output: {marker.output_id} …"
    )
    return {
        "output_type": "error",
        "ename": str(output.get("ename", ""))[:1000],
        "evalue": head_text(str(output.get("evalue", "")), budget // 2),
        "traceback": [*head, note, *tail],
        "metadata": {MARKER_KEY: marker.to_json()},
    }


def _fit(lines: Iterable[str], budget: int) -> list[str]:
    kept: list[str] = []
    for line in lines:
        size = len(line.encode())
        if size > budget:
            break
        kept.append(line)
        budget -= size
    return kept


def _orphaned(output: dict[str, Any]) -> dict[str, Any]:
    # The full output is gone; keep the stand-in in a schema-valid shape.
    kept = {k: v for k, v in output.items() if k != "metadata"}
    if output.get("output_type") in ("display_data", "execute_result"):
        kept["metadata"] = output.get("metadata", {})
    return kept


def _map_outputs(nb: Mapping[str, Any], change: Any) -> dict[str, Any]:
    cells = []
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs")
        if isinstance(outputs, list) and outputs:
            new_outputs = [change(output) for output in outputs]
            if any(new is not old for new, old in zip(new_outputs, outputs, strict=True)):
                cell = {**cell, "outputs": new_outputs}
        cells.append(cell)
    return {**nb, "cells": cells}
