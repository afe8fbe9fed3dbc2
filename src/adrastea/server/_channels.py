"""The kernel WebSocket: one client connection bridged to a kernel's zmq channels.

Each connection gets its own shell, control and stdin sockets under one random
zmq identity, so the kernel routes replies and input requests to the client
that sent the request, and its own iopub subscription, so every client sees
all output -- the same wiring as Jupyter Server.  Messages cross with no
re-serialisation in the v1 protocol; client messages are signed with the
kernel's key on the way in.

Before the client's messages are passed on, the kernel is "nudged" with
kernel_info requests on private sockets until the new iopub subscription has
delivered a message: otherwise the first output of the client's first request
could be published before the subscription is live, and be lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, cast

import anyio
import zmq.asyncio
from anyio.streams.memory import MemoryObjectReceiveStream
from jupyter_client.session import json_packer
from starlette.websockets import WebSocket, WebSocketDisconnect

from adrastea.kernels import (
    CHANNELS,
    DELIM,
    Channel,
    Kernel,
    KernelEvent,
    SocketDrain,
    split_message,
)
from adrastea.server._ws_protocol import WireProtocol, protocol_for

__all__ = ["serve_kernel_channels"]

log = logging.getLogger(__name__)

# Errors that mean the client went away while we were sending.
_GONE = (OSError, RuntimeError, WebSocketDisconnect)
# Channels a client may send on (iopub only flows from the kernel).
_CLIENT_CHANNELS = frozenset({"shell", "control", "stdin"})


async def serve_kernel_channels(
    websocket: WebSocket,
    kernel: Kernel,
    *,
    session_id: str | None,
    nudge_timeout: float,
    iopub: bool = True,
) -> None:
    """Accept ``websocket`` and relay messages until either side goes away.

    With ``iopub=False`` no iopub message is relayed once the connection is
    set up, and the kernel does not even send them to this connection: for a
    client that only makes requests (a browser's completion and inspection),
    so a 50 MB print elsewhere in the notebook never reaches it.

    Returns when the client disconnects, the kernel is shut down (close code
    1000) or a newer connection with the same ``session_id`` replaces this
    one.  ``nudge_timeout`` bounds the wait for a kernel that does not answer;
    after it the connection proceeds anyway, as in Jupyter Server.
    """
    protocol = protocol_for(websocket.scope.get("subprotocols") or ())
    await websocket.accept(subprotocol=protocol.subprotocol)
    bridge = _Bridge(websocket, kernel, protocol, iopub=iopub)
    try:
        with kernel.attach(session_id) as events:
            if kernel.stopping.is_set():  # shut down while we were accepting
                await websocket.close(1000, "kernel shut down")
                return
            await bridge.run(events, nudge_timeout)
    finally:
        bridge.close()


class _Bridge:
    def __init__(
        self, websocket: WebSocket, kernel: Kernel, protocol: WireProtocol, *, iopub: bool
    ) -> None:
        self.want_iopub = iopub
        self.websocket = websocket
        self.kernel = kernel
        self.protocol = protocol
        identity = uuid.uuid4().hex.encode()
        self.sockets: dict[Channel, zmq.asyncio.Socket] = {
            channel: kernel.connect(channel, None if channel == "iopub" else identity)
            for channel in CHANNELS
        }
        self.iopub_seen = anyio.Event()
        self.iopub_live = False  # forward iopub (the nudge is over)
        self.relaying = False  # pass client messages on (held ones are sent)
        self.held: list[tuple[Channel, list[bytes | memoryview]]] = []

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close(linger=0)

    async def run(
        self, events: MemoryObjectReceiveStream[KernelEvent], nudge_timeout: float
    ) -> None:
        drain = SocketDrain(self.sockets)
        try:
            async with anyio.create_task_group() as tg:
                cancel = tg.cancel_scope.cancel

                def spawn(func: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
                    tg.start_soon(self._until_gone, cancel, func, *args)

                spawn(self._forward, drain)
                spawn(self._follow_kernel, events)
                # Read the client from the start (to notice it leaving), but
                # hold its messages until the nudge is over.
                spawn(self._receive, drain)
                await self._nudge(nudge_timeout)
                if not self.want_iopub:
                    # Publisher-side filtering: the kernel stops sending to us.
                    self.sockets["iopub"].setsockopt(zmq.UNSUBSCRIBE, b"")
                self.iopub_live = self.want_iopub
                while self.held:
                    channel, frames = self.held.pop(0)
                    await drain.send(channel, frames)
                self.relaying = True
        finally:
            drain.close()

    async def _until_gone(
        self,
        cancel: Callable[[], None],
        func: Callable[..., Coroutine[Any, Any, None]],
        *args: Any,
    ) -> None:
        # Whichever side ends first ends the whole bridge.
        try:
            await func(*args)
        except _GONE as exc:
            log.debug("kernel %s: connection ended: %r", self.kernel.id, exc)
        cancel()

    async def _receive(self, drain: SocketDrain[Channel]) -> None:
        """Client -> kernel: sign each message and send it on its channel."""
        receive = self.websocket.receive
        from_client = self.protocol.from_client
        sign = self.kernel.session.sign
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            parsed = from_client(message)
            if parsed is None:
                log.warning("kernel %s: dropping a malformed client message", self.kernel.id)
                continue
            name, parts = parsed
            if name not in _CLIENT_CHANNELS:
                log.warning("kernel %s: no such channel %r", self.kernel.id, name)
                continue
            channel = cast(Channel, name)
            frames: list[bytes | memoryview] = [DELIM, sign(parts[:4]), *parts]
            if self.relaying:
                await drain.send(channel, frames)
            else:
                self.held.append((channel, frames))

    async def _forward(self, drain: SocketDrain[Channel]) -> None:
        """Kernel -> client, all channels; iopub is dropped until the nudge is over."""
        send = self.websocket.send
        to_client = self.protocol.to_client
        names = {channel: channel.encode() for channel in CHANNELS}
        while True:
            for channel, parts in await drain.receive():
                if channel == "iopub" and not self.iopub_live:
                    # Outputs of the nudge itself: not the client's business.
                    self.iopub_seen.set()
                    continue
                start = split_message(parts)
                if start >= 0:
                    await send(to_client(names[channel], parts, start))

    async def _nudge(self, within: float) -> None:
        if self.kernel.execution_state in ("busy", "dead"):
            # Requests queue behind the running cell; a busy kernel publishes
            # anyway (Jupyter Server does not nudge busy kernels either).  A
            # dead one will not answer.
            return
        if not await self.kernel.until_ready(within, self.iopub_seen):
            log.warning("kernel %s did not answer within %ss", self.kernel.id, within)

    async def _follow_kernel(self, events: MemoryObjectReceiveStream[KernelEvent]) -> None:
        """Kernel lifecycle -> client: status messages, or closing the socket."""
        async for event in events:
            if event == "closed":
                await self.websocket.close(1000, "kernel shut down")
                return
            if event == "replaced":
                await self.websocket.close(1000, "replaced by a newer connection")
                return
            await self._send_status(event)

    async def _send_status(self, state: str) -> None:
        session = self.kernel.session
        msg = session.msg("status", {"execution_state": state})
        parts = [
            json_packer(msg["header"]),
            json_packer(msg["parent_header"]),
            json_packer(msg["metadata"]),
            json_packer(msg["content"]),
        ]
        await self.websocket.send(self.protocol.to_client(b"iopub", parts, 0))
