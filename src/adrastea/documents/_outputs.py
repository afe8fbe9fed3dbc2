"""Writing kernel outputs into a live notebook: append, replace, clear, and coalesced streams.

All output changes of one document go through one :class:`OutputWriter`, so
their order is kept: stream text is buffered (see ``_stream``) and reaches the
document at most every ``interval`` seconds, but any other output for the same
cell first flushes that cell's pending stream text.

Jupyter's rules are followed: stream text joins the cell's last output when
that is a stream of the same name, else starts a new output; ``clear(wait=True)``
clears when the next output arrives; ``update_display`` rewrites every output
shown with a ``display_id``.  Outputs over ``cap_bytes`` are spilled (see
``_capping``).  Outputs for a cell that no longer exists (deleted by a user
while it ran) are dropped.

Not thread-safe: call everything from the event loop that owns the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskStatus
from jupyter_ydoc import YNotebook
from pycrdt import Array, Map, Text

from adrastea.documents._capping import SpillMarker, cap_output
from adrastea.documents._clock import Clock, SystemClock
from adrastea.documents._spill import SpillStore
from adrastea.documents._stream import LiveStream
from adrastea.documents._ynotebook import find_cell, new_youtput

__all__ = ["OutputWriter"]


@dataclass
class _Cell:
    hint: int | None = None
    streams: list[LiveStream] = field(default_factory=list)  # not yet applied, in order
    open: LiveStream | None = None  # the stream new text of its name joins
    clear_wait: bool = False


class OutputWriter:
    """The one way outputs get into a :class:`jupyter_ydoc.YNotebook`.

    ``stream`` is cheap and never touches the document; :meth:`flush` applies
    buffered stream text in one transaction.  Run :meth:`run` in a task group
    to flush at most every ``interval`` seconds while text arrives, or call
    :meth:`flush` yourself.
    """

    def __init__(
        self,
        notebook: YNotebook,
        spill: SpillStore,
        *,
        cap_bytes: int = 1_000_000,
        interval: float = 0.1,
        clock: Clock | None = None,
    ) -> None:
        self._notebook = notebook
        self._spill = spill
        self._cap = cap_bytes
        self._interval = interval
        self._clock: Clock = clock or SystemClock()
        self._cells: dict[str, _Cell] = {}
        self._pending: set[str] = set()
        self._displays: dict[str, list[tuple[str, int]]] = {}
        self._wake: anyio.Event | None = None
        self._last_flush = float("-inf")
        self.flushes = 0
        """How many times buffered stream text reached the document."""

    @property
    def pending(self) -> bool:
        """True if some stream text has not reached the document yet."""
        return bool(self._pending)

    def stream(self, cell_id: str, name: str, text: str) -> int:
        """Buffer stream text (``name`` is ``stdout`` or ``stderr``) for ``cell_id``.

        Returns the index of the output the text goes to (it may only be
        created at the next flush), or -1 for empty text, which is ignored.
        """
        if not text:
            return -1
        cell = self._cell(cell_id)
        if cell.clear_wait:
            self._clear_now(cell_id, cell)
        live = cell.open
        if live is None or live.name != name:
            self._close_open(cell)
            live = LiveStream(name, self._spill, self._cap)
            if not cell.streams:
                self._adopt_last(cell_id, cell, live)
            cell.open = live
        if not cell.streams or cell.streams[-1] is not live:
            cell.streams.append(live)
        live.feed(text)
        self._pending.add(cell_id)
        if self._wake is not None:
            self._wake.set()
        if live.index is not None:
            return live.index
        youtputs = self._youtputs(cell_id, cell)
        waiting = [s for s in cell.streams if s.index is None]  # inserted in this order
        return (len(youtputs) if youtputs is not None else 0) + waiting.index(live)

    def append(self, cell_id: str, output: dict[str, Any], *, display_id: str | None = None) -> int:
        """Append a non-stream output (``display_data``, ``execute_result``, ``error``).

        Returns its index (-1 if the cell no longer exists).  ``display_id``
        (from the message's ``transient``) registers the output for
        :meth:`update_display`.  Pending stream text of the cell goes first.
        """
        cell = self._cell(cell_id)
        if cell.clear_wait:
            self._clear_now(cell_id, cell)
        self._flush_cells([cell_id])
        self._close_open(cell)
        youtputs = self._youtputs(cell_id, cell)
        if youtputs is None:
            return -1
        youtputs.append(new_youtput(cap_output(output, self._spill, self._cap)))
        index = len(youtputs) - 1
        if display_id is not None:
            self._displays.setdefault(display_id, []).append((cell_id, index))
        return index

    def update_display(self, display_id: str, output: dict[str, Any]) -> int:
        """Replace every output shown with ``display_id`` by ``output``; returns how many.

        Each replaced output keeps its type (and execution count).
        """
        replaced = 0
        targets = self._displays.get(display_id, [])
        for cell_id, index in list(targets):
            youtputs = self._youtputs(cell_id, self._cell(cell_id))
            old = youtputs[index] if youtputs is not None and index < len(youtputs) else None
            kind = old.get("output_type") if isinstance(old, Map) else None
            if kind not in ("display_data", "execute_result"):
                targets.remove((cell_id, index))  # cleared or rewritten meanwhile
                continue
            assert old is not None and youtputs is not None
            new = {**output, "output_type": kind}
            new.pop("execution_count", None)
            if kind == "execute_result":
                new["execution_count"] = old.get("execution_count")
            youtputs[index] = new_youtput(cap_output(new, self._spill, self._cap))
            replaced += 1
        return replaced

    def replace(self, cell_id: str, index: int, output: dict[str, Any]) -> None:
        """Replace output ``index`` of ``cell_id`` (any type).

        Raises:
            IndexError: the cell has no output ``index``.
        """
        cell = self._cell(cell_id)
        self._flush_cells([cell_id])
        if cell.open is not None and cell.open.index == index:
            self._close_open(cell)
        youtputs = self._youtputs(cell_id, cell)
        if youtputs is None:
            return
        if not 0 <= index < len(youtputs):
            raise IndexError(f"cell {cell_id} has no output {index}")
        youtputs[index] = new_youtput(cap_output(output, self._spill, self._cap))

    def clear(self, cell_id: str, *, wait: bool = False) -> None:
        """Clear the outputs of ``cell_id``; with ``wait``, when its next output arrives."""
        cell = self._cell(cell_id)
        if wait:
            cell.clear_wait = True
        else:
            self._clear_now(cell_id, cell)

    def finish(self, cell_id: str) -> None:
        """The cell's execution is over: flush its text and free its stream state."""
        cell = self._cells.get(cell_id)
        if cell is None:
            return
        self._flush_cells([cell_id])
        self._close_open(cell)
        del self._cells[cell_id]

    def flush(self) -> None:
        """Apply all buffered stream text to the document, in one transaction."""
        if self._pending:
            self._flush_cells(list(self._pending))
        self._last_flush = self._clock.now()

    def close(self) -> None:
        """Flush, and release every stream (the writer can still be used afterwards)."""
        self.flush()
        for cell in self._cells.values():
            self._close_open(cell)
        self._cells.clear()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Flush buffered text at most every ``interval`` seconds, until cancelled."""
        self._wake = anyio.Event()
        task_status.started()
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                if not self._pending:
                    continue
                await self._clock.sleep_until(self._last_flush + self._interval)
                self.flush()
        finally:
            self._wake = None

    # -- internals --------------------------------------------------------------------

    def _cell(self, cell_id: str) -> _Cell:
        cell = self._cells.get(cell_id)
        if cell is None:
            cell = self._cells[cell_id] = _Cell()
        return cell

    def _youtputs(self, cell_id: str, cell: _Cell) -> Array[Any] | None:
        index = find_cell(self._notebook, cell_id, cell.hint)
        cell.hint = index
        if index is None:
            return None
        youtputs = self._notebook.ycells[index].get("outputs")
        return youtputs if isinstance(youtputs, Array) else None

    def _adopt_last(self, cell_id: str, cell: _Cell, live: LiveStream) -> None:
        # Jupyter joins stream text to the last output when it is the same stream.
        youtputs = self._youtputs(cell_id, cell)
        if not youtputs:
            return
        last = youtputs[len(youtputs) - 1]
        if (
            isinstance(last, Map)
            and last.get("output_type") == "stream"
            and last.get("name") == live.name
            and isinstance(last.get("text"), Text)
            and SpillMarker.of({"metadata": last.get("metadata")}) is None
        ):
            live.adopt(len(youtputs) - 1, str(last["text"]))

    def _flush_cells(self, cell_ids: list[str]) -> None:
        todo = [cid for cid in cell_ids if cid in self._pending]
        if not todo:
            return
        with self._notebook.ydoc.transaction():
            for cell_id in todo:
                self._pending.discard(cell_id)
                self._flush_cell(cell_id, self._cell(cell_id))
        self.flushes += 1

    def _flush_cell(self, cell_id: str, cell: _Cell) -> None:
        youtputs = self._youtputs(cell_id, cell)
        if youtputs is None:
            for live in cell.streams:
                live.close()
            cell.streams, cell.open = [], None
            return
        for live in cell.streams:
            if live.index is not None and live.index < len(youtputs):
                youtput = youtputs[live.index]
                if live.matches(youtput):
                    live.apply(youtput)
                    if live is not cell.open:
                        live.close()
                    continue
            if live.index is not None:
                # A client changed the output under us: go on in a new output with
                # what the document has not seen yet.
                fresh = LiveStream(live.name, self._spill, self._cap)
                fresh.feed(live.unapplied_text())
                live.close()
                if cell.open is live:
                    cell.open = fresh
                live = fresh
            youtputs.append(new_youtput(live.render(len(youtputs))))
            if live is not cell.open:
                live.close()
        cell.streams = []

    def _close_open(self, cell: _Cell) -> None:
        if cell.open is not None:
            if cell.open not in cell.streams:
                cell.open.close()
            cell.open = None

    def _clear_now(self, cell_id: str, cell: _Cell) -> None:
        for live in cell.streams:
            live.close()
        if cell.open is not None:
            cell.open.close()
        cell.streams, cell.open, cell.clear_wait = [], None, False
        self._pending.discard(cell_id)
        for display_id, targets in list(self._displays.items()):
            targets[:] = [t for t in targets if t[0] != cell_id]
            if not targets:
                del self._displays[display_id]
        youtputs = self._youtputs(cell_id, cell)
        if youtputs is not None and len(youtputs):
            youtputs.clear()
