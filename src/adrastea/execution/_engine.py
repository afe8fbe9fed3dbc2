"""The per-notebook run queue: the one engine behind every door.

The browser, the REST API and ``adrastea run`` all execute cells through a
``NotebookEngine``: cells are queued by id and run in order on the notebook's
kernel; outputs go into an ``OutputSink``; the queue stops at the first error
(like "Run All" in JupyterLab).
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskStatus

from adrastea.execution._kernel import KernelConnection
from adrastea.execution._routing import CellResult
from adrastea.execution._runner import CellRunner
from adrastea.execution._sink import OutputSink

log = logging.getLogger(__name__)


@dataclass
class EngineStatus:
    """A snapshot of the engine for ``GET /api/notebooks/{path}/status``."""

    running: str | None
    queue: list[str]
    last_error: dict[str, Any] | None
    kernel_dead: str | None
    executed: int
    pending_input: dict[str, Any] | None = None
    #: When the running cell's execute request went to the kernel (None before).
    running_since: datetime | None = None


@dataclass
class _Prompt:
    prompt: str
    password: bool
    answered: anyio.Event = field(default_factory=anyio.Event)
    value: str | None = None


class NotebookEngine:
    """Runs the cells of one notebook on one kernel, in order.

    Use ``await task_group.start(engine.serve)`` to start its worker; it runs
    until cancelled.  ``enqueue`` returns at once.  ``on_cell_done`` is called
    after every cell (for example to autosave or to print progress).
    """

    def __init__(
        self,
        kernel: KernelConnection,
        sink: OutputSink,
        *,
        coalesce_interval: float = 0.1,
        stdin_timeout: float | None = 60.0,
        on_cell_done: Callable[[str, CellResult], Awaitable[None]] | None = None,
        on_cell_sent: Callable[[str, str], None] | None = None,
    ) -> None:
        self.kernel = kernel
        self.sink = sink
        self.coalesce_interval = coalesce_interval
        self.stdin_timeout = stdin_timeout
        self.on_cell_done = on_cell_done
        self.on_cell_sent = on_cell_sent
        self._queue: deque[str] = deque()
        self._wakeup = anyio.Event()
        self._running: str | None = None
        self._running_since: datetime | None = None
        self._last_error: dict[str, Any] | None = None
        self._kernel_dead: str | None = None
        self._executed = 0
        self._prompt: _Prompt | None = None
        self._prompt_posted = anyio.Event()
        self._following: dict[str, tuple[str, datetime | None]] = {}
        self._client: Any = None
        self._runner: CellRunner | None = None
        self._idle = anyio.Event()
        self._idle.set()

    # -- control -------------------------------------------------------------

    def enqueue(self, cell_ids: list[str]) -> list[str]:
        """Queue code cells by id (others are skipped); returns the ids queued.

        Raises KeyError for an id that is not in the notebook.
        """
        queued = []
        # A cell that starts at once (kernel ready, nothing running or queued)
        # goes straight to "running": no "queued" flash for every client.
        starts_now = self._runner is not None and self._running is None and not self._queue
        for cell_id in cell_ids:
            if self.sink.cell_type(cell_id) != "code":
                continue
            if cell_id in self._queue or cell_id == self._running:
                continue
            self._queue.append(cell_id)
            if not (starts_now and len(self._queue) == 1):
                self.sink.set_state(cell_id, "queued")
            queued.append(cell_id)
        if queued:
            self._idle = anyio.Event() if self._idle.is_set() else self._idle
            self._wakeup.set()
        return queued

    def clear_queue(self) -> list[str]:
        """Drop every queued (not running) cell; returns their ids."""
        dropped = list(self._queue)
        self._queue.clear()
        for cell_id in dropped:
            self.sink.set_state(cell_id, "idle")
        if self._running is None:
            self._idle.set()
        return dropped

    async def interrupt(self) -> None:
        """Interrupt the running cell; the rest of the queue is dropped."""
        self.clear_queue()
        await self.kernel.interrupt()

    async def restart(self) -> None:
        """Drop the queue and restart the kernel (fresh state, same place).

        A running cell ends as ``aborted`` (or ``died``, if the restart was seen
        as the kernel's death first).
        """
        self.clear_queue()
        await self.kernel.restart()
        self._kernel_dead = None
        self._close_client()

    def answer_input(self, value: str) -> bool:
        """Answer the pending ``input()`` prompt; False if none is pending."""
        prompt = self._prompt
        if prompt is None or prompt.answered.is_set():
            return False
        prompt.value = value
        prompt.answered.set()
        return True

    async def next_input_request(self) -> dict[str, Any]:
        """Wait until a cell calls ``input()``; returns ``{"prompt", "password"}``."""
        while True:
            pending = self.status().pending_input
            if pending is not None:
                return pending
            await self._prompt_posted.wait()

    async def wait_idle(self) -> None:
        """Return once the queue is empty and no cell runs."""
        await self._idle.wait()

    def status(self) -> EngineStatus:
        prompt = self._prompt
        return EngineStatus(
            running=self._running,
            running_since=self._running_since,
            queue=list(self._queue),
            last_error=self._last_error,
            kernel_dead=self._kernel_dead,
            executed=self._executed,
            pending_input=(
                {"prompt": prompt.prompt, "password": prompt.password}
                if prompt is not None and not prompt.answered.is_set()
                else None
            ),
        )

    # -- worker --------------------------------------------------------------

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The worker loop: run queued cells until cancelled."""
        task_status.started()
        try:
            while True:
                if not self._queue:
                    self._idle.set()
                    await self._wakeup.wait()
                    self._wakeup = anyio.Event()
                    continue
                cell_id = self._queue.popleft()
                try:
                    result = await self._run_one(cell_id)
                except KeyError:
                    continue  # the cell was deleted while queued
                if result.status != "ok":
                    self.clear_queue()
        finally:
            self._close_client()

    async def _run_one(self, cell_id: str) -> CellResult:
        self._running = cell_id
        try:
            following = self._following.pop(cell_id, None)
            if following is not None:
                msg_id, self._running_since = following
            # Re-attaching: the cell's own output proves the subscription, and
            # a probe would swallow some of it.
            runner = await self._get_runner(probe=following is None)
            if following is not None:
                result = await runner.follow(cell_id, msg_id)
            else:
                result = await runner.run(cell_id)
        finally:
            self._running = None
            self._running_since = None
        self._executed += 1
        if result.status != "ok":
            self._last_error = {
                "cell_id": cell_id,
                "ename": result.ename,
                "evalue": result.evalue,
            }
            if result.status == "died":
                self._kernel_dead = result.evalue
                self._close_client()
        if self.on_cell_done is not None:
            # One pass of the loop first: the cell's end reaches the document's
            # clients before this bookkeeping (a save, a state file) runs.
            await anyio.lowlevel.checkpoint()
            await self.on_cell_done(cell_id, result)
        return result

    def resume(
        self, cell_id: str, msg_id: str, then: list[str], *, since: datetime | None = None
    ) -> None:
        """Re-attach to ``cell_id``, already running as request ``msg_id``, then run ``then``.

        For a server that restarted and adopted the kernel: the cell's
        remaining outputs keep arriving; output sent while nobody listened is
        lost (the caller marks that gap).  ``since`` is when the request was
        sent, if known (``running_since`` in the status).
        """
        self._following[cell_id] = (msg_id, since)
        self._queue.appendleft(cell_id)
        self.sink.set_state(cell_id, "running")
        self.enqueue(then)
        self._idle = anyio.Event() if self._idle.is_set() else self._idle
        self._wakeup.set()

    async def _get_runner(self, *, probe: bool = True) -> CellRunner:
        if self._runner is None:
            await self.kernel.wait_ready()
            self._client = self.kernel.client()
            if probe:
                await _until_subscribed(self._client)
            self._runner = CellRunner(
                self._client,
                self.sink,
                coalesce_interval=self.coalesce_interval,
                ask_input=self._ask if self.stdin_timeout is not None else None,
                death_reason=self.kernel.death_reason,
                on_sent=self._sent,
            )
        return self._runner

    def _sent(self, cell_id: str, msg_id: str) -> None:
        self._running_since = datetime.now(UTC)
        if self.on_cell_sent is not None:
            self.on_cell_sent(cell_id, msg_id)

    def _close_client(self) -> None:
        # The runner stops watching the sockets before they close.
        if self._runner is not None:
            self._runner.close()
        if self._client is not None:
            self._client.stop_channels()
        self._client = None
        self._runner = None

    async def _ask(self, prompt: str, password: bool) -> str | None:
        self._prompt = _Prompt(prompt, password)
        self._prompt_posted.set()
        self._prompt_posted = anyio.Event()
        try:
            with anyio.move_on_after(self.stdin_timeout):
                await self._prompt.answered.wait()
            return self._prompt.value
        finally:
            self._prompt = None


async def _until_subscribed(client: Any, attempts: int = 30) -> None:
    """Wait until the client's iopub subscription delivers messages.

    A zmq SUB socket misses what is published before its subscription has
    reached the kernel ("slow joiner"), so a first cell's output could be
    lost.  A kernel_info request makes the kernel publish busy/idle status
    with that request as parent: seeing it proves the subscription is live.
    (Its shell reply is ignored later: the runner matches replies by id.)
    Waits use receive timeouts, never cancellation: cancelling a pending
    zmq receive can swallow the message that arrives just then.
    """
    for _ in range(attempts):
        msg_id = client.kernel_info()
        deadline = time.monotonic() + 1.0
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await client.get_iopub_msg(timeout=left)
            except queue.Empty:
                break
            if msg["parent_header"].get("msg_id") == msg_id:
                return
