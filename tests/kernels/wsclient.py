"""A small client of ``/api/kernels/{id}/channels`` for tests, in either protocol.

Written from the protocol descriptions, independently of the server's code,
so that tests check the server against the protocol rather than against
itself.
"""

from __future__ import annotations

import inspect
import json
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection, connect

from adrastea.kernels._local import process_running as process_alive
from adrastea.testing import ServerProcess

V1 = "v1.kernel.websocket.jupyter.org"


def header(msg_type: str, session: str) -> dict[str, Any]:
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "test",
        "date": "2024-01-01T00:00:00.000000Z",
        "version": "5.3",
    }


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    offsets = [8 * (len(parts) + 3)]
    offsets.append(offsets[-1] + len(channel.encode()))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets)
    return head + channel.encode() + b"".join(parts)


def decode_v1(data: bytes) -> dict[str, Any]:
    count = struct.unpack_from("<Q", data)[0]
    offsets = struct.unpack_from(f"<{count}Q", data, 8)
    chunks = [data[offsets[i] : offsets[i + 1]] for i in range(count - 1)]
    channel, head, parent, metadata, content, *buffers = chunks
    return {
        "channel": channel.decode(),
        "header": json.loads(head),
        "parent_header": json.loads(parent),
        "metadata": json.loads(metadata),
        "content": json.loads(content),
        "buffers": buffers,
    }


@dataclass
class Execution:
    """Everything a client saw for one execute_request."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["header"]["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    @property
    def status(self) -> str:
        return str(self.reply["content"]["status"])


class KernelWS:
    """One connection to a kernel's channels."""

    def __init__(self, ws: ClientConnection, v1: bool) -> None:
        self.ws = ws
        self.v1 = v1
        self.session = uuid.uuid4().hex
        self.seen: list[dict[str, Any]] = []  # every message received, in order

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        server: ServerProcess,
        kernel_id: str,
        *,
        v1: bool = False,
        session_id: str | None = None,
        iopub: bool = True,
    ) -> AsyncIterator[KernelWS]:
        params = [f"session_id={session_id}"] if session_id else []
        params += [] if iopub else ["iopub=false"]
        query = f"?{'&'.join(params)}" if params else ""
        url = server.ws_url(f"/api/kernels/{kernel_id}/channels{query}")
        async with connect(
            url,
            additional_headers=server.headers,
            subprotocols=[V1] if v1 else None,  # type: ignore[list-item]
            max_size=None,
            open_timeout=30,
        ) as ws:
            yield cls(ws, v1)

    async def send(self, msg_type: str, content: dict[str, Any], channel: str = "shell") -> str:
        head = header(msg_type, self.session)
        if self.v1:
            parts = [json.dumps(p).encode() for p in (head, {}, {}, content)]
            await self.ws.send(encode_v1(channel, parts))
        else:
            message = {
                "header": head,
                "parent_header": {},
                "metadata": {},
                "content": content,
                "channel": channel,
            }
            await self.ws.send(json.dumps(message))
        return str(head["msg_id"])

    async def recv(self, within: float = 30) -> dict[str, Any]:
        with anyio.fail_after(within):
            data = await self.ws.recv()
        if self.v1:
            assert isinstance(data, bytes), "v1 frames are binary"
            msg = decode_v1(data)
        else:
            assert isinstance(data, str), "legacy frames without buffers are text"
            msg = json.loads(data)
            assert msg["msg_type"] == msg["header"]["msg_type"]
            assert msg["msg_id"] == msg["header"]["msg_id"]
        self.seen.append(msg)
        return msg

    async def request(
        self, msg_type: str, content: dict[str, Any], channel: str = "shell", within: float = 30
    ) -> dict[str, Any]:
        """Send a request and return its reply (messages in between are kept in ``seen``)."""
        msg_id = await self.send(msg_type, content, channel)
        with anyio.fail_after(within):
            while True:
                msg = await self.recv()
                if msg["channel"] == channel and msg["parent_header"].get("msg_id") == msg_id:
                    return msg

    async def kernel_info(self, within: float = 60) -> dict[str, Any]:
        return await self.request("kernel_info_request", {}, within=within)

    async def start_execute(self, code: str, *, allow_stdin: bool = False) -> str:
        return await self.send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": allow_stdin,
                "stop_on_error": True,
            },
        )

    async def finish_execute(self, msg_id: str, within: float = 30) -> Execution:
        """Collect until the execute_reply and the iopub idle status of ``msg_id``."""
        reply: dict[str, Any] | None = None
        idle = False
        messages: list[dict[str, Any]] = []
        with anyio.fail_after(within):
            while reply is None or not idle:
                msg = await self.recv()
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                messages.append(msg)
                msg_type = msg["header"]["msg_type"]
                if msg_type == "execute_reply":
                    reply = msg
                elif msg_type == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
        return Execution(reply, messages)

    async def execute(self, code: str, within: float = 30) -> Execution:
        return await self.finish_execute(await self.start_execute(code), within)

    async def wait_for(self, msg_type: str, within: float = 30, **content: Any) -> dict[str, Any]:
        """The next message of ``msg_type`` whose content has the given items."""
        with anyio.fail_after(within):
            while True:
                msg = await self.recv()
                if msg["header"]["msg_type"] == msg_type and all(
                    msg["content"].get(k) == v for k, v in content.items()
                ):
                    return msg


async def poll_until(check: Callable[[], bool | Awaitable[bool]], within: float = 30) -> None:
    """Poll ``check`` (an API call, a /proc lookup) until true; failing after ``within`` s."""
    with anyio.fail_after(within):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            # Nothing to wait on here but the deadline: these are other processes.
            await anyio.sleep(0.05)


async def wait_until_gone(pid: int, within: float = 30) -> None:
    await poll_until(lambda: not process_alive(pid), within)
