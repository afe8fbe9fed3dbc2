"""A minimal y-websocket client over a pycrdt Doc, for tests and scripts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import websockets
from pycrdt import (
    Doc,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from adrastea.documents import new_ynotebook


class YClient:
    """A synced replica of a server document.

    ``notebook`` is a ``YNotebook`` over the replica; local edits are sent to
    the server, remote ones applied as they arrive.  ``synced`` is set once
    the server's SYNC_STEP2 was applied; ``changed`` fires on every remote
    update (replaced after each wait).
    """

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.notebook = new_ynotebook()
        self.doc: Doc[Any] = self.notebook.ydoc
        self.synced = anyio.Event()
        self._changed = anyio.Event()
        self._pending: list[bytes] = []
        self._subscription = self.doc.observe(self._local_update)

    def _local_update(self, event: TransactionEvent) -> None:
        message = create_update_message(event.update)
        self._pending.append(message)

    async def flush(self) -> None:
        """Send local edits made since the last flush."""
        pending, self._pending = self._pending, []
        for message in pending:
            await self.websocket.send(message)

    async def wait_for(self, predicate: Any, within: float = 30.0) -> None:
        """Wait until ``predicate(notebook)`` is true, re-checking on every update."""
        with anyio.fail_after(within):
            while not predicate(self.notebook):
                event = self._changed
                await event.wait()

    async def _receive(self) -> None:
        async for message in self.websocket:
            if not isinstance(message, bytes) or not message:
                continue
            if message[0] != YMessageType.SYNC:
                continue
            # Not observed while applied: pycrdt would encode the (maybe huge) update
            # again for the observer, only for it to be ignored.
            self.doc.unobserve(self._subscription)
            try:
                reply = handle_sync_message(message[1:], self.doc)
            finally:
                self._subscription = self.doc.observe(self._local_update)
            if reply is not None:
                await self.websocket.send(reply)
            if message[1] == YSyncMessageType.SYNC_STEP2:
                self.synced.set()
            self._changed.set()
            self._changed = anyio.Event()


@contextlib.asynccontextmanager
async def connect_document(url: str, headers: dict[str, str]) -> AsyncIterator[YClient]:
    """Connect to a ``/api/documents/{path}`` URL and sync; yields the client."""
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        client = YClient(ws)
        await ws.send(create_sync_message(client.doc))
        async with anyio.create_task_group() as tg:
            tg.start_soon(client._receive)
            with anyio.fail_after(30):
                await client.synced.wait()
            yield client
            tg.cancel_scope.cancel()
