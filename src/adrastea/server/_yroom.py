"""A y-websocket room: many WebSocket clients kept in sync with one server Doc.

Speaks the y-websocket protocol (the one ``y-websocket``'s ``WebsocketProvider``
and JupyterLab's collaboration use): on connect the server sends SYNC_STEP1
and answers the client's SYNC_STEP1 with SYNC_STEP2; afterwards every update
to the Doc -- from any client or from the server itself (outputs written by
the engine) -- is broadcast to every client.  Awareness (cursors, selections,
user names) is relayed through a ``pycrdt.Awareness``.

A client too slow to keep up (its queue overflows) is disconnected; on
reconnect the sync handshake gives it everything it missed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pycrdt import (
    Awareness,
    Doc,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
    write_var_uint,
)
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)

_QUEUE = 10_000  # messages buffered per client before it is dropped
# SYNC_STEP1 carrying an empty document's state vector, and the head of a SYNC_STEP2.
_STEP1_FROM_NOTHING = create_sync_message(Doc())[1:]
_STEP2 = bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2])


class _Source(Protocol):
    def full_update(self) -> bytes: ...

    def follow_updates(self, listener: Callable[[bytes], None]) -> Callable[[], None]: ...


class _Client:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        send, receive = anyio.create_memory_object_stream[bytes](_QUEUE)
        self.outbox: MemoryObjectSendStream[bytes] = send
        self.inbox: MemoryObjectReceiveStream[bytes] = receive
        self.awareness_ids: set[int] = set()
        self.sent: bytes | None = None  # state vector of the whole state sent unasked

    def push(self, message: bytes) -> None:
        try:
            self.outbox.send_nowait(message)
        except anyio.WouldBlock:
            self.outbox.close()  # too slow: the writer loop ends, the socket closes
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass


class YRoom:
    """Clients of one document.  Call ``close()`` when the document closes.

    A ``LiveNotebook`` provides the document's updates and its whole state
    (``follow_updates``, ``full_update``); without one the room observes the
    Doc itself.  A client that syncs from nothing (every new browser tab) gets
    ``full_update()``, which the notebook keeps encoded until it changes.
    """

    def __init__(self, doc: Doc[Any], live: _Source | None = None) -> None:
        self.doc = doc
        self.awareness = Awareness(doc)
        self.clients: set[_Client] = set()
        if live is not None:
            self._full_update = live.full_update
            self._stop_updates = live.follow_updates(self._on_update)
        else:
            self._full_update = doc.get_update
            subscription = doc.observe(lambda event: self._on_update(event.update))
            self._stop_updates = lambda: doc.unobserve(subscription)
        self._aw_sub = self.awareness.observe(self._on_awareness)

    def close(self) -> None:
        self._stop_updates()
        self.awareness.unobserve(self._aw_sub)
        for client in list(self.clients):
            client.outbox.close()

    def _on_update(self, update: bytes) -> None:
        message = create_update_message(update)
        for client in list(self.clients):
            client.push(message)

    def _on_awareness(self, topic: str, changes: tuple[dict[str, Any], Any]) -> None:
        if topic != "update":
            return
        change, _origin = changes
        ids = [*change.get("added", []), *change.get("updated", []), *change.get("removed", [])]
        if not ids:
            return
        message = create_awareness_message(self.awareness.encode_awareness_update(ids))
        for client in list(self.clients):
            client.push(message)

    async def serve(self, websocket: WebSocket, *, holds_nothing: bool = False) -> None:
        """Serve one accepted WebSocket until it closes.

        ``holds_nothing``: the client is known to start from an empty document
        (a new tab, not a reconnect).  It is sent the whole document as a
        SYNC_STEP2 right after the server's SYNC_STEP1, one round trip sooner
        than the protocol's order (y-websocket clients apply a SYNC_STEP2
        whenever it comes, and count as synced from it); its own SYNC_STEP1,
        which then arrives empty, is answered with what changed since.
        """
        client = _Client(websocket)
        self.clients.add(client)
        try:
            await websocket.send_bytes(create_sync_message(self.doc))
            if holds_nothing:
                update = self._full_update()
                client.sent = self.doc.get_state()  # no await since: the state sent
                await websocket.send_bytes(_step2(update))
            states = list(self.awareness.states)
            if states:
                update = self.awareness.encode_awareness_update(states)
                await websocket.send_bytes(create_awareness_message(update))
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer, client, tg.cancel_scope)
                await self._reader(client)
                tg.cancel_scope.cancel()
        finally:
            self.clients.discard(client)
            client.outbox.close()
            if client.awareness_ids:
                self.awareness.remove_awareness_states(list(client.awareness_ids), client)

    async def _writer(self, client: _Client, scope: anyio.CancelScope) -> None:
        with contextlib.suppress(Exception):
            async for message in client.inbox:
                await client.websocket.send_bytes(message)
        # Outbox closed (slow client or room closed): end the connection.
        scope.cancel()
        with contextlib.suppress(Exception):
            await client.websocket.close(1013, "too far behind; reconnect")

    async def _reader(self, client: _Client) -> None:
        websocket = client.websocket
        while True:
            try:
                message = await websocket.receive_bytes()
            except (WebSocketDisconnect, KeyError, RuntimeError):
                return
            if not message:
                continue
            kind = message[0]
            if kind == YMessageType.SYNC:
                if message[1:] == _STEP1_FROM_NOTHING:
                    if client.sent is not None:
                        client.push(_step2(self.doc.get_update(client.sent)))
                    else:
                        client.push(_step2(self._full_update()))
                    continue
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    client.push(reply)
            elif kind == YMessageType.AWARENESS:
                update = read_message(message[1:])
                client.awareness_ids.update(_awareness_client_ids(update))
                self.awareness.apply_awareness_update(update, client)


def _step2(update: bytes) -> bytes:
    return _STEP2 + write_var_uint(len(update)) + update


def _awareness_client_ids(update: bytes) -> list[int]:
    """Client ids named in an awareness update (varuint count, then entries)."""
    ids = []
    pos = 0

    def varuint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = update[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    try:
        for _ in range(varuint()):
            ids.append(varuint())
            varuint()  # clock
            length = varuint()
            pos += length  # JSON state
    except IndexError:
        pass
    return ids
