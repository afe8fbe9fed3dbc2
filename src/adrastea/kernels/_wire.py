"""Small pieces of the kernel wire protocol used outside the hot path.

Messages on a zmq socket are ``[*identities, DELIM, signature, header,
parent_header, metadata, content, *buffers]``; ``split_message`` finds the JSON parts
without parsing them, ``kernel_info`` asks a kernel whether it is alive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import anyio
import zmq
import zmq.asyncio
from jupyter_client.session import Session

__all__ = ["DELIM", "KernelInfoProbe", "execution_state", "msg_type", "split_message"]

log = logging.getLogger(__name__)

DELIM = b"<IDS|MSG>"
# After a kernel_info reply, how long the iopub messages that prove a
# subscription live may take before the kernel is asked again.
_IOPUB_GRACE = 0.2


def split_message(parts: Sequence[bytes]) -> int:
    """Index of the first JSON part (the header) in a raw zmq message, or -1."""
    # Replies from a DEALER start with DELIM, iopub messages with one topic.
    if parts and parts[0] == DELIM:
        index = 0
    elif len(parts) > 1 and parts[1] == DELIM:
        index = 1
    else:
        try:
            index = list(parts).index(DELIM)
        except ValueError:
            return -1
    start = index + 2
    return start if len(parts) >= start + 4 else -1


# Headers are flat objects whose msg_type is a plain identifier, so a regular
# expression finds it several times faster than parsing the JSON.
_MSG_TYPE = re.compile(rb'"msg_type"\s*:\s*"([A-Za-z0-9_.-]*)"')
_EXECUTION_STATE = re.compile(rb'"execution_state"\s*:\s*"([a-z]*)"')


def msg_type(header: bytes) -> str | None:
    """The ``msg_type`` in a serialized header (or parent header), if any."""
    match = _MSG_TYPE.search(header)
    return match.group(1).decode() if match else None


def execution_state(content: bytes) -> str | None:
    """The ``execution_state`` in a serialized status message's content, if any."""
    match = _EXECUTION_STATE.search(content)
    return match.group(1).decode() if match else None


class KernelInfoProbe:
    """Sends ``kernel_info_request`` on shell and control, waits for either reply.

    Transient sockets are used so that no reply leaks to a client.  The probe
    is how the registry checks that a recorded kernel is really alive, how a
    restart waits for the new process, and how a new WebSocket connection
    "nudges" the kernel until its iopub subscription is live.
    """

    def __init__(self, session: Session, sockets: Sequence[zmq.asyncio.Socket]) -> None:
        self._session = session
        self._sockets = sockets

    async def send(self) -> None:
        """Send one request on every socket."""
        for sock in self._sockets:
            # A fresh message per socket: kernels reject a repeated signature.
            msg = self._session.msg("kernel_info_request")
            await sock.send_multipart(self._session.serialize(msg))

    async def reply(self) -> dict[str, Any]:
        """The content of the first kernel_info_reply, from whichever socket.

        Waits forever: wrap it in a timeout.  Any reply counts (the sockets
        are ours alone, so it answers one of our requests); messages failing
        the signature check are skipped.
        """
        result: dict[str, Any] = {}
        async with anyio.create_task_group() as tg:
            for sock in self._sockets:
                tg.start_soon(self._read, sock, result, tg.cancel_scope)
        return result

    async def _read(
        self,
        sock: zmq.asyncio.Socket,
        result: dict[str, Any],
        scope: anyio.CancelScope,
    ) -> None:
        while True:
            parts = await sock.recv_multipart()
            start = split_message(parts)
            if start < 0:
                continue
            try:
                msg = self._session.deserialize(parts[start - 1 :])
            except Exception as exc:  # a bad signature or garbage: not our reply
                log.debug("ignoring unreadable kernel message: %s", exc)
                continue
            if msg["msg_type"] == "kernel_info_reply":
                result.update(msg["content"])
                scope.cancel()
                return

    async def ask(self) -> dict[str, Any]:
        """Send a request and wait for the reply content (forever: add a timeout)."""
        await self.send()
        return await self.reply()

    async def nudge(self, *subscribed: anyio.Event) -> dict[str, Any]:
        """Ask until the kernel answers *and* every ``subscribed`` event is set.

        Each event stands for an iopub subscription that is set when its
        socket receives a message: the status messages around our requests
        prove the subscription live (as Jupyter Server's nudge does).  Returns
        the reply content; waits forever, so add a timeout.
        """
        while True:
            info = await self.ask()
            with anyio.move_on_after(_IOPUB_GRACE):
                for event in subscribed:
                    await event.wait()
            if all(event.is_set() for event in subscribed):
                return info

    def close(self) -> None:
        for sock in self._sockets:
            sock.close(linger=0)
