"""Where the engine writes what a cell produces: the ``OutputSink`` seam.

Two implementations exist: the live document (``_document_sink``) for the
server, and a plain nbformat notebook saved after every cell (``batch``) for
headless runs.  Both see exactly the same calls from the same engine.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

CellState = Literal["idle", "queued", "running"]
Output = dict[str, Any]


class OutputSink(Protocol):
    """A notebook the engine can read sources from and write outputs into.

    Cells are addressed by id.  Output indices are stable between two
    ``clear_outputs`` of a cell: outputs are only appended or replaced.
    """

    def batch(self) -> AbstractContextManager[Any]:
        """Group the calls made inside the ``with`` block into one change.

        For a live document that is one transaction, so its clients get one
        update (not one per call) when a cell starts or ends.
        """

    def cell_ids(self) -> list[str]:
        """Ids of all cells, in document order."""

    def cell_type(self, cell_id: str) -> str:
        """``"code"``, ``"markdown"`` or ``"raw"``; raises KeyError for unknown ids."""

    def cell_source(self, cell_id: str) -> str:
        """The source of a cell; raises KeyError for unknown ids."""

    def set_state(self, cell_id: str, state: CellState) -> None:
        """Mark a cell queued, running or idle (transient, not saved)."""

    def clear_outputs(self, cell_id: str) -> None:
        """Remove every output of the cell."""

    def append_output(self, cell_id: str, output: Output) -> int:
        """Append a non-stream output; return its index."""

    def append_stream(self, cell_id: str, name: str, text: str) -> int:
        """Append stream text, merged into the last output if it is the same stream.

        Returns the index of the stream output that received the text.
        """

    def replace_output(self, cell_id: str, index: int, output: Output) -> None:
        """Replace one output (``update_display_data``)."""

    def set_execution_count(self, cell_id: str, count: int | None) -> None:
        """Set the cell's execution count."""

    def set_execution_metadata(self, cell_id: str, timing: dict[str, str]) -> None:
        """Merge JupyterLab-style timing keys into ``metadata.execution``."""

    def cell_finished(self, cell_id: str, ok: bool) -> None:
        """Called once per executed cell, after its last output; e.g. to save."""
