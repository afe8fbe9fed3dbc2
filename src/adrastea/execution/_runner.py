"""Run one cell on a kernel client: send it, receive its messages, answer its prompts.

What the messages mean for the notebook is ``_routing``'s part; this module
drives a cell from its request to its end, watching that the kernel lives.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from adrastea.execution._channels import ChannelsClosed, KernelChannels
from adrastea.execution._routing import CellResult, CellRouting, DisplayTargets, forget_displays
from adrastea.execution._sink import OutputSink

__all__ = ["CellRunner", "InputProvider"]

#: Answer an ``input()`` prompt: returns the text, or None if nobody answered.
InputProvider = Callable[[str, bool], Awaitable[str | None]]

#: Seconds between two checks that the kernel is still alive while a cell runs.
_DEATH_CHECK = 1.0


class CellRunner:
    """Executes cells one at a time on one kernel client.

    The caller owns ``client`` (an ``AsyncKernelClient`` with started
    channels) and must :meth:`close` the runner before stopping the client's
    channels; create the runner on the event loop that runs the cells.
    ``display_targets`` maps a display id to the outputs showing it, across
    cells, so ``update_display_data`` reaches all of them as in JupyterLab.
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
        self.display_targets: DisplayTargets = {}
        self._channels = KernelChannels(client)
        self._check_at = math.inf

    def close(self) -> None:
        """Stop reading the client's channels; a running cell ends as ``aborted``."""
        self._channels.close()

    async def run(self, cell_id: str) -> CellResult:
        """Execute ``cell_id`` and return how it ended; outputs go to the sink.

        Clears the cell's outputs first.  Returns ``died`` (with the reason in
        ``evalue``) if the kernel goes away before the cell finishes, and
        ``aborted`` if the runner is closed meanwhile (a restart).
        """
        sink = self.sink
        source = sink.cell_source(cell_id)
        # The request goes first, so the kernel works while the document
        # changes.  Nothing is read from the kernel before ``follow``, so the
        # changes below still precede every output.
        content = {
            "code": source,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": self.ask_input is not None,
            "stop_on_error": True,
        }
        try:
            msg_id = await self._channels.send("shell", "execute_request", content)
        except ChannelsClosed:
            return _closed()
        forget_displays(self.display_targets, cell_id)
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
        routing = CellRouting(
            sink,
            cell_id,
            msg_id,
            ours=ours,
            coalesce_interval=self.coalesce_interval,
            display_targets=self.display_targets,
        )
        self._check_at = math.inf if self.death_reason is None else time.monotonic() + _DEATH_CHECK
        result, request = await self._route(routing)
        # An input() prompt is answered in a task, as output keeps coming
        # meanwhile.  Only then is there a task group: leaving one costs a
        # pass of the loop, which would hold up the end of every cell.
        while request is not None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._answer, cell_id, request)
                result, request = await self._route(routing)
                tg.cancel_scope.cancel()
        assert result is not None
        with sink.batch():
            if result.status == "died":
                self._note(cell_id, "stderr", f"\nAdrastea: the kernel died: {result.evalue}\n")
            if result.execution_count is not None:
                sink.set_execution_count(cell_id, result.execution_count)
            sink.set_execution_metadata(cell_id, routing.timing)
            sink.set_state(cell_id, "idle")
            sink.cell_finished(cell_id, result.status == "ok")
        return result

    async def _route(
        self, routing: CellRouting
    ) -> tuple[CellResult, None] | tuple[None, dict[str, Any]]:
        """Route messages until the cell ends (its result) or asks for input (the request).

        The cell also ends when the kernel is found dead (checked about
        every ``_DEATH_CHECK`` seconds) or the runner is closed.
        """
        while not routing.done:
            within = routing.timeout()
            if self._check_at != math.inf:
                left = max(0.0, self._check_at - time.monotonic())
                within = left if within is None else min(within, left)
            try:
                got = await self._channels.receive(within)
            except ChannelsClosed:
                routing.streams.flush()
                return _closed(), None
            if self.death_reason is not None and time.monotonic() >= self._check_at:
                reason = await self.death_reason()
                if reason is not None:
                    routing.streams.flush()
                    return CellResult(status="died", ename="KernelDied", evalue=reason), None
                self._check_at = time.monotonic() + _DEATH_CHECK
            if got is None:
                routing.flush_due()
                continue
            request = routing.handle(*got)
            if request is not None and self.ask_input is not None:
                return None, request
        return routing.result(), None

    async def _answer(self, cell_id: str, request: dict[str, Any]) -> None:
        assert self.ask_input is not None
        answer = await self.ask_input(request.get("prompt", ""), bool(request.get("password")))
        if answer is None:
            self._note(
                cell_id, "stderr", "\nAdrastea: input() got no answer in time; interrupting.\n"
            )
            await self._interrupt()
        else:
            with contextlib.suppress(ChannelsClosed):
                await self._channels.send("stdin", "input_reply", {"value": answer})

    async def _interrupt(self) -> None:
        # Portable interrupt: an interrupt_request on the control channel.
        msg = self.client.session.msg("interrupt_request", {})
        self.client.control_channel.send(msg)

    def _note(self, cell_id: str, name: str, text: str) -> None:
        self.sink.append_stream(cell_id, name, text)


def _closed() -> CellResult:
    return CellResult(
        status="aborted", ename="KernelRestarted", evalue="the kernel connection was closed"
    )
