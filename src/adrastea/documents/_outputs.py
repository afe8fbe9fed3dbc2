"""Writing kernel outputs into a live notebook: append, replace, clear, and coalesced streams.

All output changes of one document go through one :class:`OutputWriter`, so
their order is kept: stream text is buffered (see ``_stream``) and reaches the
document at most every ``interval`` seconds, but any other output for the same
cell first flushes that cell's pending stream text.  A spilled stream that keeps
growing refreshes its tail within a byte budget (``stream_refresh_rate``, see
``_stream``): its cell stays pending until the tail is current, and the stream's
last update, when it ends (another output follows, the cell finishes, the writer
closes), shows its true tail whatever the budget.

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
from adrastea.documents._stream import DEFAULT_REFRESH_RATE, LiveStream
from adrastea.documents._ynotebook import find_cell, new_youtput

__all__ = ["OutputWriter"]


@dataclass
class _Cell:
    hint: int | None = None
    # Not yet applied, in order, or (the open one only) applied with a stale tail.
    streams: list[LiveStream] = field(default_factory=list)
    open: LiveStream | None = None  # the stream new text of its name joins
    clear_wait: bool = False


class OutputWriter:
    """The one way outputs get into a :class:`jupyter_ydoc.YNotebook`.

    ``stream`` is cheap and never touches the document; :meth:`flush` applies
    buffered stream text in one transaction.  Run :meth:`run` in a task group
    to flush at most every ``interval`` seconds while text arrives, or call
    :meth:`flush` yourself.  ``stream_refresh_rate`` bounds the bytes a second a
    spilled, still growing stream sends to refresh its tail.
    """

    def __init__(
        self,
        notebook: YNotebook,
        spill: SpillStore,
        *,
        cap_bytes: int = 1_000_000,
        interval: float = 0.1,
        clock: Clock | None = None,
        stream_refresh_rate: float = DEFAULT_REFRESH_RATE,
    ) -> None:
        self._notebook = notebook
        self._spill = spill
        self._cap = cap_bytes
        self._interval = interval
        self._clock: Clock = clock or SystemClock()
        self._refresh_rate = stream_refresh_rate
        self._cells: dict[str, _Cell] = {}
        self._pending: set[str] = set()
        self._displays: dict[str, list[tuple[str, int]]] = {}
        self._wake: anyio.Event | None = None
        self._last_flush = float("-inf")
        self.flushes = 0
        """How many times buffered stream text reached the document."""

    @property
    def pending(self) -> bool:
        """True if some stream text has not reached the document yet.

        A spilled stream's tail waiting for its byte budget counts: :meth:`flush` may
        leave it pending, :meth:`run` refreshes it when the budget allows.
        """
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
            live = self._new_stream(name)
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
        self._close_open(cell)  # first, so the stream's last update shows its true tail
        self._flush_cells([cell_id])
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
        live = cell.open
        if live is not None and live.index == index:
            # Its output goes: a stale tail waiting for the budget need not be shown.
            if live in cell.streams:
                cell.streams.remove(live)
                if not cell.streams:
                    self._pending.discard(cell_id)
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
        self._close_open(cell)  # first, so the stream's last update shows its true tail
        self._flush_cells([cell_id])
        del self._cells[cell_id]

    def flush(self) -> None:
        """Apply all buffered stream text to the document, in one transaction.

        Spilled streams that keep growing refresh their tails only as their budget allows
        (the note, current line and marker are always current, so a save is exact).
        """
        if self._pending:
            self._flush_cells(list(self._pending))
        self._last_flush = self._clock.now()

    def close(self) -> None:
        """Flush, and release every stream (the writer can still be used afterwards).

        Every stream ends here: the document then shows each one's true tail.
        """
        for cell in self._cells.values():
            self._close_open(cell)
        self.flush()  # no stream is open now, so every cell is due
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
                if self._pending:
                    # A stale tail waits for its budget: look again next interval.
                    self._wake.set()
        finally:
            self._wake = None

    # -- internals --------------------------------------------------------------------

    def _new_stream(self, name: str) -> LiveStream:
        return LiveStream(
            name, self._spill, self._cap, refresh_rate=self._refresh_rate, clock=self._clock
        )

    def _due(self, cell: _Cell, now: float) -> bool:
        # False only while the cell's one stream waits for its budget with nothing new:
        # a flush then has nothing to write (not even an empty transaction).
        return not cell.streams or any(
            live is not cell.open or live.ready_at() <= now for live in cell.streams
        )

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
        now = self._clock.now()
        todo = [cid for cid in cell_ids if cid in self._pending and self._due(self._cell(cid), now)]
        if not todo:
            return
        with self._notebook.ydoc.transaction():
            for cell_id in todo:
                self._pending.discard(cell_id)
                cell = self._cell(cell_id)
                self._flush_cell(cell_id, cell)
                if cell.streams:
                    self._pending.add(cell_id)
        self.flushes += 1

    def _flush_cell(self, cell_id: str, cell: _Cell) -> None:
        youtputs = self._youtputs(cell_id, cell)
        if youtputs is None:
            for live in cell.streams:
                live.close()
            cell.streams, cell.open = [], None
            return
        stale: list[LiveStream] = []
        for live in cell.streams:
            if live.index is not None and live.index < len(youtputs):
                youtput = youtputs[live.index]
                if live.matches(youtput):
                    # A stream that is no longer open has ended: its last update is final.
                    live.apply(youtput, final=live is not cell.open)
                    if live is not cell.open:
                        live.close()
                    elif live.changed:
                        stale.append(live)  # its tail waits for the budget
                    continue
            if live.index is not None:
                # A client changed the output under us: go on in a new output with
                # what the document has not seen yet.
                fresh = self._new_stream(live.name)
                fresh.feed(live.unapplied_text())
                live.close()
                if cell.open is live:
                    cell.open = fresh
                live = fresh
            youtputs.append(new_youtput(live.render(len(youtputs))))
            if live is not cell.open:
                live.close()
        cell.streams = stale

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
