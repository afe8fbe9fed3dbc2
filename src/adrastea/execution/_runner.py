"""Run one cell on a kernel client and route every message into a sink.

This is the single place that interprets the Jupyter messaging protocol's
execution messages (stream, display_data, update_display_data,
execute_result, error, clear_output, execute_input, status, input_request).
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from adrastea.execution._iopub import IopubReader, StreamText
from adrastea.execution._sink import Output, OutputSink

#: Answer an ``input()`` prompt: returns the text, or None if nobody answered.
InputProvider = Callable[[str, bool], Awaitable[str | None]]


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


class CellRunner:
    """Executes cells one at a time on one kernel client.

    The caller owns ``client`` (an ``AsyncKernelClient`` with started
    channels).  ``display_targets`` maps a display id to the outputs showing
    it, across cells, so ``update_display_data`` reaches all of them as in
    JupyterLab.
    """

    def __init__(
        self,
        client: Any,
        sink: OutputSink,
        *,
        coalesce_interval: float = 0.1,
        ask_input: InputProvider | None = None,
        death_reason: Callable[[], Awaitable[str | None]] | None = None,
        on_sent: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.sink = sink
        self.coalesce_interval = coalesce_interval
        self.ask_input = ask_input
        self.death_reason = death_reason
        self.on_sent = on_sent
        self.display_targets: dict[str, list[tuple[str, int]]] = {}
        self._iopub = IopubReader(client)

    async def run(self, cell_id: str) -> CellResult:
        """Execute ``cell_id`` and return how it ended; outputs go to the sink.

        Clears the cell's outputs first.  Returns ``died`` (with the reason in
        ``evalue``) if the kernel goes away before the cell finishes.
        """
        sink = self.sink
        source = sink.cell_source(cell_id)
        # The request goes first: nothing is read from the kernel before the
        # next await, so the document changes below still precede every output.
        msg_id = self.client.execute(
            source, store_history=True, allow_stdin=self.ask_input is not None, stop_on_error=True
        )
        self._forget_displays(cell_id)
        with sink.batch():
            sink.clear_outputs(cell_id)
            sink.set_execution_count(cell_id, None)
            sink.set_state(cell_id, "running")
        if self.on_sent is not None:
            self.on_sent(cell_id, msg_id)
        return await self.follow(cell_id, msg_id, ours=True)

    async def follow(self, cell_id: str, msg_id: str, *, ours: bool = False) -> CellResult:
        """Route the messages of the execute request ``msg_id`` into ``cell_id``.

        Used by ``run`` (``ours``: this client sent the request, so its
        execute_reply comes to us), and on its own to re-attach to a cell that
        was already running when a restarted server adopted its kernel: then
        the reply goes to the dead server's socket, and the end of the cell is
        told by its iopub ``idle`` status and any error output.
        """
        sink = self.sink
        timing: dict[str, str] = {}
        result: CellResult | None = None
        reply_seen = anyio.Event()
        finished = anyio.Event()

        async with anyio.create_task_group() as tg:

            async def read_reply() -> None:
                nonlocal result
                while True:
                    # A timeout keeps this task in poll(), where cancelling it
                    # cannot swallow a later request's reply.
                    try:
                        reply = await self.client.get_shell_msg(timeout=0.5)
                    except queue.Empty:
                        continue
                    if reply["parent_header"].get("msg_id") != msg_id:
                        continue
                    content = reply["content"]
                    started = reply.get("metadata", {}).get("started")
                    if started:
                        timing["shell.execute_reply.started"] = str(started)
                    timing["shell.execute_reply"] = _now()
                    result = CellResult(
                        status=content.get("status", "error"),
                        execution_count=content.get("execution_count"),
                        ename=content.get("ename", ""),
                        evalue=content.get("evalue", ""),
                        traceback=content.get("traceback", []),
                    )
                    reply_seen.set()
                    return

            async def watch_death() -> None:
                nonlocal result
                if self.death_reason is None:
                    return
                while True:
                    await anyio.sleep(1.0)
                    reason = await self.death_reason()
                    if reason is not None:
                        result = CellResult(status="died", ename="KernelDied", evalue=reason)
                        tg.cancel_scope.cancel()
                        return

            async def answer_input() -> None:
                assert self.ask_input is not None
                # Polled with a timeout and stopped by a flag, not by
                # cancellation, which could swallow a later cell's request.
                while not finished.is_set():
                    try:
                        request = await self.client.get_stdin_msg(timeout=0.2)
                    except queue.Empty:
                        continue
                    if request["parent_header"].get("msg_id") != msg_id:
                        continue
                    content = request["content"]
                    answer = await self.ask_input(
                        content.get("prompt", ""), bool(content.get("password"))
                    )
                    if answer is None:
                        self._note(
                            cell_id,
                            "stderr",
                            "\nAdrastea: input() got no answer in time; interrupting.\n",
                        )
                        await self._interrupt()
                    else:
                        self.client.input(answer)

            tg.start_soon(read_reply)
            tg.start_soon(watch_death)
            if self.ask_input is not None:
                tg.start_soon(answer_input)
            error, count = await self._read_iopub(cell_id, msg_id, timing)
            if ours:
                await reply_seen.wait()
            elif result is None:
                result = CellResult(status="error" if error else "ok", **(error or {}))
            if result is not None and result.execution_count is None:
                result.execution_count = count
            finished.set()
            tg.cancel_scope.cancel()

        if result is None:  # pragma: no cover - the task group always sets it
            result = CellResult(status="error", ename="Unknown", evalue="no reply")
        with sink.batch():
            if result.status == "died":
                self._note(cell_id, "stderr", f"\nAdrastea: the kernel died: {result.evalue}\n")
            if result.execution_count is not None:
                sink.set_execution_count(cell_id, result.execution_count)
            sink.set_execution_metadata(cell_id, timing)
            sink.set_state(cell_id, "idle")
            sink.cell_finished(cell_id, result.status == "ok")
        return result

    async def _interrupt(self) -> None:
        # Portable interrupt: an interrupt_request on the control channel.
        msg = self.client.session.msg("interrupt_request", {})
        self.client.control_channel.send(msg)

    def _note(self, cell_id: str, name: str, text: str) -> None:
        self.sink.append_stream(cell_id, name, text)

    async def _read_iopub(
        self, cell_id: str, msg_id: str, timing: dict[str, str]
    ) -> tuple[dict[str, Any] | None, int | None]:
        """Route iopub messages of ``msg_id`` until its ``idle`` status.

        Returns the last error's ``ename``/``evalue``/``traceback``, if any,
        and the execution count announced by ``execute_input``.  (The count is
        shown once the cell ends, as JupyterLab does: a running cell shows
        ``[*]``, and one document change fewer per cell keeps the round trip short.)
        """
        error: dict[str, Any] | None = None
        count: int | None = None
        sink = self.sink
        streams = _Streams(sink, cell_id, self.coalesce_interval)
        clear_pending = False

        def before_output() -> None:
            nonlocal clear_pending
            if clear_pending:
                clear_pending = False
                streams.pending.clear()
                self._forget_displays(cell_id)
                sink.clear_outputs(cell_id)

        while True:
            try:
                msg = await self._iopub.get(within=streams.timeout())
            except queue.Empty:
                streams.flush()
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            content = msg["content"]
            if kind == "status":
                state = content.get("execution_state")
                if state == "busy":
                    timing["iopub.status.busy"] = _now()
                elif state == "idle":
                    timing["iopub.status.idle"] = _now()
                    streams.flush()
                    return error, count
            elif kind == "stream":
                before_output()
                text = content.get("text", "")
                if isinstance(text, StreamText):
                    # A huge print: handed on slice by slice, never whole.
                    streams.flush()
                    for piece in text.slices():
                        sink.append_stream(cell_id, content.get("name", "stdout"), piece)
                else:
                    streams.add(content.get("name", "stdout"), text)
            elif kind == "execute_input":
                timing["iopub.execute_input"] = _now()
                count = content.get("execution_count")
            elif kind == "clear_output":
                streams.flush()
                if content.get("wait"):
                    clear_pending = True
                else:
                    streams.pending.clear()
                    self._forget_displays(cell_id)
                    sink.clear_outputs(cell_id)
            elif kind in ("display_data", "execute_result", "error"):
                if kind == "error":
                    error = {k: content.get(k) for k in ("ename", "evalue", "traceback")}
                before_output()
                streams.flush()
                output = _output(kind, content)
                index = sink.append_output(cell_id, output)
                display_id = content.get("transient", {}).get("display_id")
                if display_id:
                    self.display_targets.setdefault(display_id, []).append((cell_id, index))
            elif kind == "update_display_data":
                display_id = content.get("transient", {}).get("display_id")
                streams.flush()
                for target_cell, index in self.display_targets.get(display_id, []):
                    sink.replace_output(target_cell, index, _output("display_data", content))

    def _forget_displays(self, cell_id: str) -> None:
        for targets in self.display_targets.values():
            targets[:] = [t for t in targets if t[0] != cell_id]


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
