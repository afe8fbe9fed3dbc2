"""Receive from zmq sockets on the event loop with one wake-up per burst of messages.

pyzmq's asyncio sockets create futures, timers and reader registrations for
every single ``recv``; on the kernel WebSocket path that machinery costs more
than everything else the server does with a message.  A ``SocketDrain``
registers each socket's notification fd with the loop once, sleeps until one
fires and then takes everything that is ready with plain non-blocking calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import anyio
import zmq

__all__ = ["SocketDrain"]

K = TypeVar("K")

# Messages taken per call at most, so that one busy socket cannot hold up the others.
_BATCH = 64
# Plain ints: pyzmq's enum members cost an enum conversion on every call.
_FD, _EVENTS, _POLLIN = int(zmq.FD), int(zmq.EVENTS), int(zmq.POLLIN)
_NOBLOCK, _SNDMORE = int(zmq.NOBLOCK), int(zmq.SNDMORE)
_SNDMORE_NOBLOCK = _SNDMORE | _NOBLOCK
# When a peer does not keep up (its high-water mark is reached), retry this often.
_SEND_RETRY = 0.005


class SocketDrain(Generic[K]):
    """Batched receiving (and non-blocking sending) on zmq sockets, keyed by ``K``.

    Create it inside the task that uses it (it binds to the running asyncio
    loop) and ``close`` it before closing the sockets.  While it lives, the
    sockets must not be used through pyzmq's asyncio methods: those register
    the same fd with the loop and would replace this one's registration.
    """

    def __init__(
        self, sockets: Mapping[K, zmq.Socket[Any]], *, max_part: int | None = None
    ) -> None:
        """``max_part``: parts larger than this many bytes come back empty.

        For readers that only look at headers (the activity watcher): a
        50 MB output then is not copied out of zmq's buffer at all.
        """
        self._max_part = max_part
        self._loop = asyncio.get_running_loop()
        # Plain (blocking-API) views of the same libzmq sockets.
        self._sockets: dict[K, zmq.Socket[bytes]] = {
            key: zmq.Socket.shadow(sock.underlying) for key, sock in sockets.items()
        }
        # Sockets that may have messages: all at first, then those signalled.
        self._ready: dict[K, None] = dict.fromkeys(self._sockets)
        self._waiter: asyncio.Future[None] | None = None
        self._fds: list[int] = []
        for key, sock in self._sockets.items():
            fd = cast(int, sock.getsockopt(_FD))
            self._loop.add_reader(fd, self._on_readable, key, sock)
            self._fds.append(fd)

    def _on_readable(self, key: K, sock: zmq.Socket[bytes]) -> None:
        # The fd only says "look at EVENTS"; reading EVENTS re-arms it, so the
        # level-triggered loop does not spin while the consumer is busy.
        if cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
            self._ready[key] = None
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def receive(self) -> list[tuple[K, list[bytes]]]:
        """The messages ready now, waiting for at least one."""
        while True:
            batch: list[tuple[K, list[bytes]]] = []
            for key in list(self._ready):
                sock = self._sockets[key]
                # Asking EVENTS is much cheaper than a recv failing with Again.
                while cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
                    batch.append((key, _recv(sock, self._max_part)))
                    if len(batch) >= _BATCH:
                        return batch
                del self._ready[key]
            if batch:
                return batch
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def send(self, key: K, frames: Sequence[bytes | memoryview]) -> None:
        """Send ``frames`` on socket ``key``; waits only if the peer is not keeping up."""
        sock = self._sockets[key]
        last = len(frames) - 1
        while True:
            try:
                sock.send(frames[0], _SNDMORE_NOBLOCK if last else _NOBLOCK)
                break
            except zmq.Again:
                await anyio.sleep(_SEND_RETRY)
        # Once the first part is taken, zmq takes the rest of the message.
        for index in range(1, last + 1):
            sock.send(frames[index], _SNDMORE if index < last else 0)

    def close(self) -> None:
        """Stop watching the sockets (they stay open: their owner closes them)."""
        for fd in self._fds:
            self._loop.remove_reader(fd)
        self._fds = []
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()


def _recv(sock: zmq.Socket[bytes], max_part: int | None = None) -> list[bytes]:
    # recv_multipart asks the socket option RCVMORE after every part (an enum
    # conversion each time); a Frame knows whether more parts follow.
    frame = sock.recv(_NOBLOCK, copy=False)
    parts = [_part(frame, max_part)]
    while frame.more:
        frame = sock.recv(0, copy=False)
        parts.append(_part(frame, max_part))
    return parts


def _part(frame: zmq.Frame, max_part: int | None) -> bytes:
    if max_part is not None and len(frame) > max_part:
        return b""
    return frame.bytes
