"""One running kernel: its jupyter_client manager, observed state and listeners.

The registry creates ``Kernel`` objects (by launching or adopting) and owns
their background tasks; doors such as the WebSocket bridge use ``connect``,
``attach`` and the observed state, and never touch the process directly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import zmq.asyncio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session

from adrastea.kernels._drain import SocketDrain
from adrastea.kernels._wire import KernelInfoProbe, execution_state, msg_type, split_message
from adrastea.kernels.types import (
    Channel,
    ExecutionState,
    KernelEnvironment,
    KernelId,
    KernelModel,
)

__all__ = ["Kernel", "KernelEvent"]

log = logging.getLogger(__name__)

KernelEvent = Literal["restarting", "dead", "closed", "replaced"]
"""What attached clients hear: an automatic restart began, the kernel died for good,
it is gone, or (to one client only) a newer connection took over its session id."""

# Message types that are not user activity, after Jupyter Server's
# ipykernel (and kernels built on it) publish status, execute_input/result
# and errors under topics ``kernel.<id>.<type>``; streams under ``stream.*``
# and displays under ``display_data``.
_KERNEL_TOPIC = b"kernel."


def _narrow_subscription(sock: zmq.Socket[Any]) -> None:
    """Subscribe the activity watcher to ``kernel.*`` topics only.

    The watcher needs status messages, not outputs.  With zmq's
    publisher-side filtering, a 50 MB print is then not sent to this socket
    at all (it would be a second 50 MB buffer in the server) and streams cost
    it nothing.  Only done once a message proves the kernel uses these topics:
    other kernels may publish status under any topic.
    """
    sock.setsockopt(zmq.SUBSCRIBE, _KERNEL_TOPIC)
    sock.setsockopt(zmq.UNSUBSCRIBE, b"")


# ``untracked_message_types``: a status reply to a kernel_info_request must
# not keep an idle kernel from being culled.
_UNTRACKED = frozenset(
    {
        "comm_info_request", "comm_info_reply", "kernel_info_request", "kernel_info_reply",
        "shutdown_request", "shutdown_reply", "interrupt_request", "interrupt_reply",
        "debug_request", "debug_reply", "stream", "display_data", "update_display_data",
        "execute_input", "execute_result", "error", "status", "clear_output", "debug_event",
        "input_request", "input_reply", "iopub_welcome",
    }
)  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


class Kernel:
    """A kernel the registry manages.

    State (``execution_state``, ``last_activity``) is observed from the
    kernel's iopub status messages by ``watch``, the way Jupyter Server does.
    Lifecycle operations (restart, shut down) are the registry's; they take
    ``lock`` so that they never overlap.
    """

    def __init__(
        self,
        kernel_id: KernelId,
        name: str,
        manager: AsyncKernelManager,
        *,
        cwd: str,
        started: datetime,
        provisioner_name: str,
        launch_env: dict[str, str],
        environment: KernelEnvironment | None = None,
    ) -> None:
        self.id = kernel_id
        self.name = name
        self.manager = manager
        self.cwd = cwd
        self.started = started
        self.provisioner_name = provisioner_name
        self.launch_env = launch_env
        self.environment = environment
        self.execution_state: ExecutionState = "starting"
        self.last_activity = _now()
        self.connections = 0
        self.reason: str | None = None
        self.lock = anyio.Lock()
        self.answered = False  # has it ever replied to kernel_info?
        self.stopping = anyio.Event()
        self.closed = anyio.Event()
        self._listeners: set[MemoryObjectSendStream[KernelEvent]] = set()
        self._clients: dict[str, MemoryObjectSendStream[KernelEvent]] = {}
        self._watch_scope: anyio.CancelScope | None = None
        # Set once the activity watcher's subscription delivers; renewed on restart.
        self.watching = anyio.Event()

    @property
    def session(self) -> Session:
        """The kernel's signing session (key and scheme from its connection info)."""
        session: Session = self.manager.session
        return session

    def model(self) -> KernelModel:
        """This kernel in Jupyter Server's ``/api/kernels`` shape."""
        return KernelModel(
            id=self.id,
            name=self.name,
            last_activity=self.last_activity,
            execution_state=self.execution_state,
            connections=self.connections,
            reason=self.reason,
            environment=self.environment,
            job_id=self.job_id,
        )

    @property
    def job_id(self) -> str | None:
        """The Slurm job the kernel runs in (its provisioner's ``job_id``), if any."""
        job_id = getattr(self.manager.provisioner, "job_id", None)
        return str(job_id) if job_id is not None else None

    def end_reason(self) -> str | None:
        """Why the place the kernel ran in is gone for good (a Slurm job ended), if so.

        Provisioners that run kernels in jobs tell (``end_reason()``); for a
        local process this is always None.
        """
        end_reason = getattr(self.manager.provisioner, "end_reason", None)
        return end_reason() if end_reason is not None else None

    def connect(self, channel: Channel, identity: bytes | None = None) -> zmq.asyncio.Socket:
        """A new zmq socket connected to ``channel``; the caller closes it.

        Sockets with the same ``identity`` on shell, control and stdin receive
        the replies (and input requests) to the requests they sent.
        """
        sock: zmq.asyncio.Socket = getattr(self.manager, f"connect_{channel}")(identity=identity)
        return sock

    def probe(self) -> KernelInfoProbe:
        """A kernel_info prober on fresh shell and control sockets; close it after use."""
        return KernelInfoProbe(self.session, [self.connect("shell"), self.connect("control")])

    async def kernel_info(self, within: float) -> dict[str, Any] | None:
        """The kernel's kernel_info_reply content, or None if none came ``within`` s."""
        probe = self.probe()
        try:
            with anyio.move_on_after(within):
                return await probe.ask()
            return None
        finally:
            probe.close()

    async def until_ready(self, within: float, *subscribed: anyio.Event) -> bool:
        """Nudge the kernel until it answers and our iopub subscriptions are live.

        ``subscribed`` are the caller's own iopub subscriptions (see
        ``KernelInfoProbe.nudge``); the activity watcher's is always included,
        so no status is missed once this returns True (and the kernel counts as
        ``answered``).  False after ``within`` seconds without both.
        """
        probe = self.probe()
        try:
            with anyio.move_on_after(within):
                await probe.nudge(self.watching, *subscribed)
                self.settle()
                return True
            return False
        finally:
            probe.close()

    @contextlib.contextmanager
    def attach(
        self, client_id: str | None = None
    ) -> Iterator[MemoryObjectReceiveStream[KernelEvent]]:
        """Count one client connection while in the block; yields its event stream.

        A client attaching with the ``client_id`` (Jupyter's ``session_id``) of
        one still attached replaces it: the older one hears ``"replaced"``, as
        Jupyter Server closes a stale connection when its client reconnects.
        """
        send, receive = anyio.create_memory_object_stream[KernelEvent](16)
        if client_id is not None:
            stale = self._clients.get(client_id)
            if stale is not None:
                with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError):
                    stale.send_nowait("replaced")
            self._clients[client_id] = send
        self._listeners.add(send)
        self.connections += 1
        try:
            with receive:
                yield receive
        finally:
            self.connections -= 1
            self._listeners.discard(send)
            if client_id is not None and self._clients.get(client_id) is send:
                del self._clients[client_id]
            send.close()

    def notify(self, event: KernelEvent) -> None:
        """Tell every attached client about ``event``; never blocks."""
        for send in list(self._listeners):
            with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError):
                send.send_nowait(event)

    async def watch(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Follow the kernel's iopub until ``stop_watching``; started once subscribed."""
        sock = self.connect("iopub")
        # Only headers and status content are read: skip copying big parts.
        drain = SocketDrain({"iopub": sock}, max_part=1 << 16)
        narrowed = False
        try:
            with anyio.CancelScope() as scope:
                self._watch_scope = scope
                task_status.started()
                while True:
                    for _, parts in await drain.receive():
                        if not self.watching.is_set():
                            self.watching.set()
                        self._observe(parts)
                        if not narrowed and parts and parts[0].startswith(_KERNEL_TOPIC):
                            narrowed = True
                            _narrow_subscription(sock)
        except zmq.ZMQError as exc:
            # Not fatal to anyone else: the state just stops being tracked.
            log.error("kernel %s: activity watcher stopped: %s", self.id, exc)
        finally:
            drain.close()
            sock.close(linger=0)

    def stop_watching(self) -> None:
        if self._watch_scope is not None:
            self._watch_scope.cancel()

    def _observe(self, parts: list[bytes]) -> None:
        start = split_message(parts)
        if start < 0:
            return
        kind = msg_type(parts[start])
        if kind is None:
            return
        busy = self.execution_state == "busy"
        parent_kind = None
        if kind == "status" or (kind in _UNTRACKED and not busy):
            parent_kind = msg_type(parts[start + 1])
        tracked_parent = parent_kind is not None and parent_kind not in _UNTRACKED
        if kind not in _UNTRACKED or tracked_parent or busy:
            self.last_activity = _now()
        if kind != "status":
            return
        state = execution_state(parts[start + 3])
        if tracked_parent and state in ("busy", "idle", "starting"):
            self.execution_state = state  # type: ignore[assignment]
        elif self.execution_state in ("starting", "restarting") and state not in (None, "starting"):
            # Like Jupyter Server: a status for an untracked request (our
            # kernel_info probes) only tells us the kernel is up.
            self.execution_state = "idle"

    def settle(self) -> None:
        """The kernel answered kernel_info: if still shown as starting, it is idle."""
        self.answered = True
        self.reason = None
        if self.execution_state in ("starting", "restarting", "dead"):
            self.execution_state = "idle"

    def die(self, reason: str) -> None:
        """Mark the kernel dead for ``reason`` and tell attached clients."""
        self.execution_state = "dead"
        self.reason = reason
        self.notify("dead")
