"""An ``OutputSink`` over a plain nbformat notebook, saved after every cell."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from adrastea.execution import CellState, Output


def dump_notebook(nb: dict[str, Any]) -> bytes:
    """The file bytes of ``nb``: nbformat's exact layout, as Jupyter writes it."""
    from adrastea.documents import encode_notebook

    return "".join(encode_notebook(nb)).encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (see ``documents.atomic_write``)."""
    from adrastea.documents import atomic_write

    atomic_write(path, data)


class NotebookFileSink:
    """Writes outputs into an nbformat dict and saves it to ``path`` after each cell.

    Saving after every cell is what lets a run killed by walltime leave a
    valid notebook holding every cell that finished.
    """

    def __init__(
        self, nb: dict[str, Any], path: Path | None, *, save_on_finish: bool = True
    ) -> None:
        from adrastea.documents import CellCache

        self.nb = nb
        self.path = path
        self.save_on_finish = save_on_finish
        self._cells = {cell["id"]: cell for cell in nb["cells"]}
        self._encoded = CellCache()
        self.states: dict[str, CellState] = {}

    def touch(self, cell_id: str) -> None:
        """Say that ``cell_id`` was changed by someone else than the engine."""
        self._encoded.changed(cell_id)

    def save(self) -> None:
        """Write the notebook (re-encoding only the cells changed since the last save)."""
        if self.path is not None:
            write_atomically(self.path, self._encoded.encode(self.nb).encode("utf-8"))

    def batch(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext()  # a plain dict: nothing to group

    def cell_ids(self) -> list[str]:
        return [cell["id"] for cell in self.nb["cells"]]

    def cell_type(self, cell_id: str) -> str:
        return str(self._cells[cell_id]["cell_type"])

    def cell_source(self, cell_id: str) -> str:
        source = self._cells[cell_id]["source"]
        return "".join(source) if isinstance(source, list) else str(source)

    def set_state(self, cell_id: str, state: CellState) -> None:
        self.states[cell_id] = state

    def clear_outputs(self, cell_id: str) -> None:
        self._encoded.changed(cell_id)
        self._cells[cell_id]["outputs"] = []

    def append_output(self, cell_id: str, output: Output) -> int:
        self._encoded.changed(cell_id)
        outputs: list[Output] = self._cells[cell_id]["outputs"]
        outputs.append(output)
        return len(outputs) - 1

    def append_stream(self, cell_id: str, name: str, text: str) -> int:
        self._encoded.changed(cell_id)
        outputs: list[Output] = self._cells[cell_id]["outputs"]
        if outputs and outputs[-1].get("output_type") == "stream" and outputs[-1]["name"] == name:
            outputs[-1]["text"] += text
        else:
            outputs.append({"output_type": "stream", "name": name, "text": text})
        return len(outputs) - 1

    def replace_output(self, cell_id: str, index: int, output: Output) -> None:
        self._encoded.changed(cell_id)
        self._cells[cell_id]["outputs"][index] = output

    def set_execution_count(self, cell_id: str, count: int | None) -> None:
        self._encoded.changed(cell_id)
        self._cells[cell_id]["execution_count"] = count

    def set_execution_metadata(self, cell_id: str, timing: dict[str, str]) -> None:
        self._encoded.changed(cell_id)
        self._cells[cell_id]["metadata"].setdefault("execution", {}).update(timing)

    def cell_finished(self, cell_id: str, ok: bool) -> None:
        if self.save_on_finish:
            self.save()
