"""Routing one cell's kernel messages into a sink, one message at a time.

This is the single place that interprets the Jupyter messaging protocol's
execution messages (stream, display_data, update_display_data,
execute_result, error, clear_output, execute_input, status, execute_reply,
input_request).  It never waits: receiving, and answering ``input()``, is the
runner's part.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adrastea.execution._iopub import StreamText
from adrastea.execution._sink import Output, OutputSink

__all__ = ["CellResult", "CellRouting", "DisplayTargets", "forget_displays"]

#: Display id -> the (cell id, output index) pairs showing it, across cells.
DisplayTargets = dict[str, list[tuple[str, int]]]


@dataclass
class CellResult:
    """How one cell ended: ``status`` is ``ok``, ``error``, ``aborted`` or ``died``."""

    status: str
    execution_count: int | None = None
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def forget_displays(targets: DisplayTargets, cell_id: str) -> None:
    """Drop the outputs of ``cell_id`` from ``targets`` (its outputs were cleared)."""
    for outputs in targets.values():
        outputs[:] = [t for t in outputs if t[0] != cell_id]


class _Streams:
    """Stream text gathered for at most ``interval`` seconds before a write."""

    def __init__(self, sink: OutputSink, cell_id: str, interval: float) -> None:
        self.sink, self.cell_id, self.interval = sink, cell_id, interval
        self.pending: list[tuple[str, list[str]]] = []
        self.deadline = math.inf

    def add(self, name: str, text: str) -> None:
        if self.pending and self.pending[-1][0] == name:
            self.pending[-1][1].append(text)
        else:
            self.pending.append((name, [text]))
        if self.deadline == math.inf:
            self.deadline = time.monotonic() + self.interval

    def timeout(self) -> float | None:
        if self.deadline == math.inf:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def flush(self) -> None:
        for name, parts in self.pending:
            self.sink.append_stream(self.cell_id, name, "".join(parts))
        self.pending.clear()
        self.deadline = math.inf


class CellRouting:
    """The messages of the execute request ``msg_id``, routed into ``cell_id`` as they come.

    Pass every received message to :meth:`handle` (others' are ignored)
    until :attr:`done`: the iopub ``idle`` status has come and, if ``ours``
    (this client sent the request), the execute_reply too, in either order.
    Stream text is gathered for up to ``coalesce_interval`` seconds: call
    :meth:`flush_due` when :meth:`timeout` has passed without a message.
    ``timing`` collects JupyterLab's ``metadata.execution`` keys.
    """

    def __init__(
        self,
        sink: OutputSink,
        cell_id: str,
        msg_id: str,
        *,
        ours: bool,
        coalesce_interval: float,
        display_targets: DisplayTargets,
    ) -> None:
        self.sink, self.cell_id, self.msg_id, self.ours = sink, cell_id, msg_id, ours
        self.display_targets = display_targets
        self.timing: dict[str, str] = {}
        self.streams = _Streams(sink, cell_id, coalesce_interval)
        self._error: dict[str, Any] | None = None
        self._count: int | None = None
        self._reply: CellResult | None = None
        self._idle = False
        self._clear_pending = False

    @property
    def done(self) -> bool:
        return self._idle and (self._reply is not None or not self.ours)

    def timeout(self) -> float | None:
        """Seconds until gathered stream text is due, or None if there is none."""
        return self.streams.timeout()

    def flush_due(self) -> None:
        """Write gathered stream text if it is due."""
        if self.streams.timeout() == 0.0:
            self.streams.flush()

    def result(self) -> CellResult:
        """How the cell ended, once :attr:`done`: by its reply, or by its error output.

        The execution count announced by ``execute_input`` is shown only now,
        as JupyterLab does: a running cell shows ``[*]``, and one document
        change fewer per cell keeps the round trip short.
        """
        result = self._reply
        if result is None:
            result = CellResult(status="error" if self._error else "ok", **(self._error or {}))
        if result.execution_count is None:
            result.execution_count = self._count
        return result

    def handle(self, channel: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Route one message from ``channel``; returns an ``input_request``'s content, else None."""
        if msg["parent_header"].get("msg_id") != self.msg_id:
            return None
        kind = msg["header"]["msg_type"]
        content: dict[str, Any] = msg["content"]
        if channel == "iopub":
            self._iopub(kind, content)
        elif channel == "shell" and kind == "execute_reply":
            self._reply = self._execute_reply(msg)
        elif channel == "stdin" and kind == "input_request":
            return content
        return None

    def _iopub(self, kind: str, content: dict[str, Any]) -> None:
        sink, cell_id, streams = self.sink, self.cell_id, self.streams
        if kind == "status":
            state = content.get("execution_state")
            if state == "busy":
                self.timing["iopub.status.busy"] = _now()
            elif state == "idle":
                self.timing["iopub.status.idle"] = _now()
                streams.flush()
                self._idle = True
        elif kind == "stream":
            self._before_output()
            text = content.get("text", "")
            if isinstance(text, StreamText):
                # A huge print: handed on slice by slice, never whole.
                streams.flush()
                for piece in text.slices():
                    sink.append_stream(cell_id, content.get("name", "stdout"), piece)
            else:
                streams.add(content.get("name", "stdout"), text)
        elif kind == "execute_input":
            self.timing["iopub.execute_input"] = _now()
            self._count = content.get("execution_count")
        elif kind == "clear_output":
            streams.flush()
            if content.get("wait"):
                self._clear_pending = True
            else:
                self._clear()
        elif kind in ("display_data", "execute_result", "error"):
            if kind == "error":
                self._error = {k: content.get(k) for k in ("ename", "evalue", "traceback")}
            self._before_output()
            streams.flush()
            index = sink.append_output(cell_id, _output(kind, content))
            display_id = content.get("transient", {}).get("display_id")
            if display_id:
                self.display_targets.setdefault(display_id, []).append((cell_id, index))
        elif kind == "update_display_data":
            display_id = content.get("transient", {}).get("display_id")
            streams.flush()
            for target_cell, index in self.display_targets.get(display_id, []):
                sink.replace_output(target_cell, index, _output("display_data", content))

    def _before_output(self) -> None:
        if self._clear_pending:
            self._clear_pending = False
            self._clear()

    def _clear(self) -> None:
        self.streams.pending.clear()
        forget_displays(self.display_targets, self.cell_id)
        self.sink.clear_outputs(self.cell_id)

    def _execute_reply(self, msg: dict[str, Any]) -> CellResult:
        content = msg["content"]
        started = msg.get("metadata", {}).get("started")
        if started:
            self.timing["shell.execute_reply.started"] = str(started)
        self.timing["shell.execute_reply"] = _now()
        return CellResult(
            status=content.get("status", "error"),
            execution_count=content.get("execution_count"),
            ename=content.get("ename", ""),
            evalue=content.get("evalue", ""),
            traceback=content.get("traceback", []),
        )


def _output(kind: str, content: dict[str, Any]) -> Output:
    """The nbformat output for an iopub message (``transient`` is not saved)."""
    if kind == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback", []),
        }
    output: Output = {
        "output_type": kind,
        "data": content.get("data", {}),
        "metadata": content.get("metadata", {}),
    }
    if kind == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output
