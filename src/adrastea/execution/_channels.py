"""The engine's kernel channels: shell, iopub and stdin read with one loop wake-up per burst.

pyzmq's asyncio sockets create futures, timers and reader registrations for
every receive, and jupyter_client adds a poll before each: for a trivial cell
(five or six messages) that machinery costs more than routing the messages.
:class:`KernelChannels` registers each socket's notification fd with the loop
once, sleeps until one fires and then takes everything that is ready with
plain non-blocking calls (``adrastea.kernels``' ``SocketWatch``, also behind
the kernel WebSocket's ``SocketDrain``), keeping each frame in zmq's buffer
(see ``_iopub``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal, cast

import anyio
import zmq

from adrastea.execution._iopub import decode_message
from adrastea.kernels._drain import SocketWatch, has_input, recv_frames

__all__ = ["Channel", "ChannelsClosed", "KernelChannels"]

Channel = Literal["shell", "iopub", "stdin"]
_CHANNELS: tuple[Channel, ...] = ("shell", "iopub", "stdin")

# Messages (and bytes) taken off the sockets at a time at most, so that one flood
# cannot hold the loop for long, and huge outputs wait in zmq's queue (whose
# high-water mark bounds them), not in ours.
_BATCH = 64
_BATCH_BYTES = 1 << 20
# Plain ints: pyzmq's enum members cost an enum conversion on every call.
_NOBLOCK, _SNDMORE = int(zmq.NOBLOCK), int(zmq.SNDMORE)
# When the kernel does not keep up (its high-water mark is reached), retry this often.
_SEND_RETRY = 0.005


class ChannelsClosed(Exception):
    """The channels were closed (the kernel was restarted or is gone)."""


class KernelChannels:
    """Sends on and receives from a started kernel client's shell, iopub and stdin channels.

    Create it on the event loop that uses it, and ``close`` it before the
    client's channels stop: the sockets must not be touched once closed.
    While it lives, those three channels must not be used through the
    client (pyzmq's asyncio methods would register the same fds with the loop
    and replace these registrations); its control channel is not watched.
    Messages are decoded by :func:`decode_message`; those failing the
    signature check are dropped.
    """

    def __init__(self, client: Any) -> None:
        self._session = client.session
        self._auth = client.session.auth
        self._watch: SocketWatch[Channel] = SocketWatch(
            {name: getattr(client, f"{name}_channel").socket for name in _CHANNELS}
        )
        self._inbox: deque[tuple[Channel, dict[str, Any]]] = deque()
        self._closed = False

    async def receive(self, within: float | None = None) -> tuple[Channel, dict[str, Any]] | None:
        """The next message and its channel, or None if none came ``within`` seconds.

        Returns without suspending when a message is ready (or ``within`` is
        0).  Cancelling the wait loses nothing: messages are taken off the
        sockets only between waits.  Raises ``ChannelsClosed`` once closed.
        """
        loop = self._watch.loop
        deadline = None if within is None else loop.time() + within
        while True:
            if self._inbox:
                return self._inbox.popleft()
            if self._closed:
                raise ChannelsClosed
            if self._take():
                continue
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return None
            await self._watch.wait(left)

    def _take(self) -> bool:
        """Move the messages ready now into the inbox; False if there were none."""
        taken = size = 0
        watch = self._watch
        for name in list(watch.ready):
            sock = watch.sockets[name]
            while has_input(sock):
                frames = recv_frames(sock)
                message = decode_message(frames, self._auth)
                taken += 1
                size += sum(len(frame) for frame in frames)
                if message is not None:
                    self._inbox.append((name, message))
                if taken >= _BATCH or size >= _BATCH_BYTES:
                    return True
            del watch.ready[name]
        return taken > 0

    async def send(self, channel: Channel, msg_type: str, content: dict[str, Any]) -> str:
        """Send a request on ``channel``; returns its ``msg_id``.

        Returns without suspending unless the kernel is not keeping up.
        Raises ``ChannelsClosed`` once closed.
        """
        msg = self._session.msg(msg_type, content)
        frames: list[bytes] = self._session.serialize(msg)
        last = len(frames) - 1
        while True:
            if self._closed:
                raise ChannelsClosed
            sock = self._watch.sockets[channel]
            try:
                sock.send(frames[0], _SNDMORE | _NOBLOCK)
                break
            except zmq.Again:
                await anyio.sleep(_SEND_RETRY)
        # Once the first part is taken, zmq takes the rest of the message.
        for index in range(1, last + 1):
            sock.send(frames[index], _SNDMORE if index < last else 0)
        # Sending can consume the fd's edge for messages that arrived meanwhile (zmq
        # processes its commands then): look at this socket before the next wait.
        self._watch.ready[channel] = None
        return cast(str, msg["header"]["msg_id"])

    def close(self) -> None:
        """Stop watching the sockets (they stay open: the client closes them); idempotent.

        A pending ``receive`` then raises ``ChannelsClosed``.
        """
        self._closed = True
        self._watch.close(cancel=False)
