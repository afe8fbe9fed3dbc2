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

__all__ = ["SocketDrain", "SocketWatch", "has_input", "recv_frames"]

K = TypeVar("K")

# Messages taken per call at most, so that one busy socket cannot hold up the others.
_BATCH = 64
# Plain ints: pyzmq's enum members cost an enum conversion on every call.
_FD, _EVENTS, _POLLIN = int(zmq.FD), int(zmq.EVENTS), int(zmq.POLLIN)
_NOBLOCK, _SNDMORE = int(zmq.NOBLOCK), int(zmq.SNDMORE)
_SNDMORE_NOBLOCK = _SNDMORE | _NOBLOCK
# When a peer does not keep up (its high-water mark is reached), retry this often.
_SEND_RETRY = 0.005


class SocketWatch(Generic[K]):
    """Which of some zmq sockets, keyed by ``K``, may have messages.

    Each socket's notification fd is registered with the running asyncio loop
    once; when it fires and the socket has input, the key goes into ``ready``
    (which holds every key at first) and :meth:`wait` returns.  ``sockets``
    are plain (blocking-API) views of the same libzmq sockets, for
    non-blocking calls.  While it lives, the sockets must not be used
    through pyzmq's asyncio methods: those register the same fds with the
    loop and would replace these registrations.
    """

    def __init__(self, sockets: Mapping[K, zmq.Socket[Any]]) -> None:
        self.loop = asyncio.get_running_loop()
        self.sockets: dict[K, zmq.Socket[bytes]] = {
            key: zmq.Socket.shadow(sock.underlying) for key, sock in sockets.items()
        }
        self.ready: dict[K, None] = dict.fromkeys(self.sockets)
        self._waiter: asyncio.Future[None] | None = None
        self._fds: list[int] = []
        for key, sock in self.sockets.items():
            fd = cast(int, sock.getsockopt(_FD))
            self.loop.add_reader(fd, self._on_readable, key, sock)
            self._fds.append(fd)

    def _on_readable(self, key: K, sock: zmq.Socket[bytes]) -> None:
        # The fd only says "look at EVENTS"; reading EVENTS re-arms it, so the
        # level-triggered loop does not spin while the consumer is busy.
        if has_input(sock):
            self.ready[key] = None
            self.wake()

    async def wait(self, at_most: float | None = None) -> None:
        """Until a socket is signalled, :meth:`wake` is called, or ``at_most`` seconds pass.

        Raises ``CancelledError`` if :meth:`close` cancels the wait.
        """
        waiter = self._waiter = self.loop.create_future()
        timer = None if at_most is None else self.loop.call_later(at_most, self.wake)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def wake(self) -> None:
        """End the current :meth:`wait`, if any."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self, *, cancel: bool) -> None:
        """Stop watching the sockets (they stay open: their owner closes them); idempotent.

        A pending :meth:`wait` is then cancelled (``cancel``) or ends normally.
        """
        for fd in self._fds:
            self.loop.remove_reader(fd)
        self._fds = []
        waiter = self._waiter
        if cancel and waiter is not None and not waiter.done():
            waiter.cancel()
        else:
            self.wake()


class SocketDrain(Generic[K]):
    """Batched receiving (and non-blocking sending) on zmq sockets, keyed by ``K``.

    Create it inside the task that uses it (it binds to the running asyncio
    loop) and ``close`` it before closing the sockets; see :class:`SocketWatch`.
    """

    def __init__(
        self, sockets: Mapping[K, zmq.Socket[Any]], *, max_part: int | None = None
    ) -> None:
        """``max_part``: parts larger than this many bytes come back empty.

        For readers that only look at headers (the activity watcher): a
        50 MB output then is not copied out of zmq's buffer at all.
        """
        self._max_part = max_part
        self._watch = SocketWatch(sockets)

    async def receive(self) -> list[tuple[K, list[bytes]]]:
        """The messages ready now, waiting for at least one."""
        watch = self._watch
        while True:
            batch: list[tuple[K, list[bytes]]] = []
            for key in list(watch.ready):
                sock = watch.sockets[key]
                # Asking EVENTS is much cheaper than a recv failing with Again.
                while has_input(sock):
                    parts = [_part(frame, self._max_part) for frame in recv_frames(sock)]
                    batch.append((key, parts))
                    if len(batch) >= _BATCH:
                        return batch
                del watch.ready[key]
            if batch:
                return batch
            await watch.wait()

    async def send(self, key: K, frames: Sequence[bytes | memoryview]) -> None:
        """Send ``frames`` on socket ``key``; waits only if the peer is not keeping up."""
        sock = self._watch.sockets[key]
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
        self._watch.close(cancel=True)


def has_input(sock: zmq.Socket[bytes]) -> bool:
    """True if ``sock`` has a message to receive now (cheaper than a recv failing)."""
    return bool(cast(int, sock.getsockopt(_EVENTS)) & _POLLIN)


def recv_frames(sock: zmq.Socket[bytes]) -> list[zmq.Frame]:
    """The next message on ``sock`` (which has one), its frames left in zmq's buffers."""
    # recv_multipart asks the socket option RCVMORE after every part (an enum
    # conversion each time); a Frame knows whether more parts follow.
    frame = sock.recv(_NOBLOCK, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(0, copy=False)
        frames.append(frame)
    return frames


def _part(frame: zmq.Frame, max_part: int | None) -> bytes:
    if max_part is not None and len(frame) > max_part:
        return b""
    return frame.bytes
