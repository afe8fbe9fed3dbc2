"""The engine's kernel channels: shell, iopub and stdin read with one loop wake-up per burst.

pyzmq's asyncio sockets create futures, timers and reader registrations for
every receive, and jupyter_client adds a poll before each: for a trivial cell
(five or six messages) that machinery costs more than routing the messages.
:class:`KernelChannels` registers each socket's notification fd with the loop
once, sleeps until one fires and then takes everything that is ready with
plain non-blocking calls (as ``adrastea.kernels.SocketDrain`` does for the
kernel WebSocket), keeping each frame in zmq's buffer (see ``_iopub``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Literal, cast

import anyio
import zmq

from adrastea.execution._iopub import decode_message

__all__ = ["Channel", "ChannelsClosed", "KernelChannels"]

Channel = Literal["shell", "iopub", "stdin"]
_CHANNELS: tuple[Channel, ...] = ("shell", "iopub", "stdin")

# Messages (and bytes) taken off the sockets at a time at most, so that one flood
# cannot hold the loop for long, and huge outputs wait in zmq's queue (whose
# high-water mark bounds them), not in ours.
_BATCH = 64
_BATCH_BYTES = 1 << 20
# Plain ints: pyzmq's enum members cost an enum conversion on every call.
_FD, _EVENTS, _POLLIN = int(zmq.FD), int(zmq.EVENTS), int(zmq.POLLIN)
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
        self._loop = asyncio.get_running_loop()
        # Plain (blocking-API) views of the client's libzmq sockets.
        self._sockets: dict[Channel, zmq.Socket[bytes]] = {
            name: zmq.Socket.shadow(getattr(client, f"{name}_channel").socket.underlying)
            for name in _CHANNELS
        }
        # Sockets that may have messages: all at first, then those signalled.
        self._ready: dict[Channel, None] = dict.fromkeys(self._sockets)
        self._inbox: deque[tuple[Channel, dict[str, Any]]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._fds: list[int] = []
        self._closed = False
        for name, sock in self._sockets.items():
            fd = cast(int, sock.getsockopt(_FD))
            self._loop.add_reader(fd, self._on_readable, name, sock)
            self._fds.append(fd)

    def _on_readable(self, name: Channel, sock: zmq.Socket[bytes]) -> None:
        # The fd only says "look at EVENTS"; reading EVENTS re-arms it, so the
        # level-triggered loop does not spin while the consumer is busy.
        if cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
            self._ready[name] = None
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, within: float | None = None) -> tuple[Channel, dict[str, Any]] | None:
        """The next message and its channel, or None if none came ``within`` seconds.

        Returns without suspending when a message is ready (or ``within`` is
        0).  Cancelling the wait loses nothing: messages are taken off the
        sockets only between waits.  Raises ``ChannelsClosed`` once closed.
        """
        deadline = None if within is None else self._loop.time() + within
        while True:
            if self._inbox:
                return self._inbox.popleft()
            if self._closed:
                raise ChannelsClosed
            if self._take():
                continue
            left = None if deadline is None else deadline - self._loop.time()
            if left is not None and left <= 0:
                return None
            waiter = self._waiter = self._loop.create_future()
            timer = None if left is None else self._loop.call_later(left, self._wake)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()

    def _take(self) -> bool:
        """Move the messages ready now into the inbox; False if there were none."""
        taken = size = 0
        for name in list(self._ready):
            sock = self._sockets[name]
            # Asking EVENTS is much cheaper than a recv failing with Again.
            while cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
                frames = _recv(sock)
                message = decode_message(frames, self._auth)
                taken += 1
                size += sum(len(frame) for frame in frames)
                if message is not None:
                    self._inbox.append((name, message))
                if taken >= _BATCH or size >= _BATCH_BYTES:
                    return True
            del self._ready[name]
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
            sock = self._sockets[channel]
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
        self._ready[channel] = None
        return cast(str, msg["header"]["msg_id"])

    def close(self) -> None:
        """Stop watching the sockets (they stay open: the client closes them); idempotent.

        A pending ``receive`` then raises ``ChannelsClosed``.
        """
        self._closed = True
        for fd in self._fds:
            self._loop.remove_reader(fd)
        self._fds = []
        self._wake()


def _recv(sock: zmq.Socket[bytes]) -> list[zmq.Frame]:
    # recv_multipart asks the socket option RCVMORE after every part (an enum
    # conversion each time); a Frame knows whether more parts follow.
    frame = sock.recv(_NOBLOCK, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(0, copy=False)
        frames.append(frame)
    return frames
