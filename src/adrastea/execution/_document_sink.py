"""An ``OutputSink`` over a live notebook document (the server's door)."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

from pycrdt import Map

from adrastea.documents import LiveNotebook, find_cell
from adrastea.execution._sink import CellState, Output

_SLICE = 1 << 20


class DocumentSink:
    """Writes outputs into a ``LiveNotebook`` through its ``OutputWriter``.

    The writer caps huge outputs (spilling the rest to disk) and coalesces
    stream text; cell state and execution counts go straight into the Y cell,
    so every connected client sees them at once.
    """

    def __init__(self, live: LiveNotebook) -> None:
        self.live = live
        self._hints: dict[str, int] = {}

    def _ycell(self, cell_id: str) -> Map[Any]:
        notebook = self.live.notebook
        index = find_cell(notebook, cell_id, self._hints.get(cell_id))
        if index is None:
            raise KeyError(cell_id)
        self._hints[cell_id] = index
        ycell: Map[Any] = notebook.ycells[index]
        return ycell

    def batch(self) -> AbstractContextManager[Any]:
        return self.live.notebook.ydoc.transaction()

    def cell_ids(self) -> list[str]:
        return [str(ycell.get("id")) for ycell in self.live.notebook.ycells]

    def cell_type(self, cell_id: str) -> str:
        return str(self._ycell(cell_id).get("cell_type"))

    def cell_source(self, cell_id: str) -> str:
        return str(self._ycell(cell_id).get("source"))

    def set_state(self, cell_id: str, state: CellState) -> None:
        try:
            ycell = self._ycell(cell_id)
        except KeyError:
            return  # deleted by a client meanwhile
        if ycell.get("execution_state") != state:
            ycell["execution_state"] = state

    def clear_outputs(self, cell_id: str) -> None:
        self.live.outputs.clear(cell_id)

    def append_output(self, cell_id: str, output: Output) -> int:
        return self.live.outputs.append(cell_id, output)

    def append_stream(self, cell_id: str, name: str, text: str) -> int:
        # Feed huge text in slices so the writer's encoding and spilling never
        # hold a second full copy of, say, a 50 MB print.
        index = -1
        for start in range(0, len(text), _SLICE):
            index = self.live.outputs.stream(cell_id, name, text[start : start + _SLICE])
        return index

    def replace_output(self, cell_id: str, index: int, output: Output) -> None:
        # IndexError: a client cleared the outputs meanwhile.
        with contextlib.suppress(IndexError):
            self.live.outputs.replace(cell_id, index, output)

    def set_execution_count(self, cell_id: str, count: int | None) -> None:
        with contextlib.suppress(KeyError):
            self._ycell(cell_id)["execution_count"] = count

    def set_execution_metadata(self, cell_id: str, timing: dict[str, str]) -> None:
        try:
            metadata = self._ycell(cell_id).get("metadata")
        except KeyError:
            return
        if isinstance(metadata, Map):
            current = metadata.get("execution")
            merged = {**(current if isinstance(current, dict) else {}), **timing}
            metadata["execution"] = merged

    def cell_finished(self, cell_id: str, ok: bool) -> None:
        self.live.outputs.finish(cell_id)
