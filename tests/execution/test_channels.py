"""KernelChannels: batched receiving on the loop, timeouts, cancellation and closing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio
from jupyter_client.session import Session

from adrastea.execution._channels import ChannelsClosed, KernelChannels

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Kernel:
    """The kernel's ends of the three channels, and a client shaped like jupyter_client's."""

    def __init__(self, context: zmq.asyncio.Context) -> None:
        self.session = Session(key=b"secret")
        self.shell = context.socket(zmq.ROUTER)
        self.iopub = context.socket(zmq.PUB)
        self.stdin = context.socket(zmq.ROUTER)
        ends = {"shell": zmq.DEALER, "iopub": zmq.SUB, "stdin": zmq.DEALER}
        channels = {}
        for name, kind in ends.items():
            server = getattr(self, name)
            port = server.bind_to_random_port("tcp://127.0.0.1")
            sock = context.socket(kind)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(f"tcp://127.0.0.1:{port}")
            channels[f"{name}_channel"] = SimpleNamespace(socket=sock)
        self.client = SimpleNamespace(session=Session(key=b"secret"), **channels)

    async def publish(self, msg_type: str, content: dict[str, Any], parent: str = "p") -> None:
        msg = self.session.msg(msg_type, content, parent={"msg_id": parent})
        await self.iopub.send_multipart(self.session.serialize(msg))

    def close(self) -> None:
        for sock in (self.shell, self.iopub, self.stdin):
            sock.close(linger=0)
        for name in ("shell", "iopub", "stdin"):
            getattr(self.client, f"{name}_channel").socket.close(linger=0)


@pytest.fixture
async def kernel() -> AsyncIterator[Kernel]:
    context = zmq.asyncio.Context()
    kernel = Kernel(context)
    try:
        # A SUB socket misses what is published before it is connected.
        channels = KernelChannels(kernel.client)
        with anyio.fail_after(5):
            while True:
                await kernel.publish("status", {"execution_state": "idle"}, parent="probe")
                if await channels.receive(within=0.05) is not None:
                    break
        while await channels.receive(within=0.05) is not None:
            pass
        channels.close()
        yield kernel
    finally:
        kernel.close()
        context.term()


async def test_messages_of_every_channel_arrive_in_order(kernel: Kernel) -> None:
    channels = KernelChannels(kernel.client)
    try:
        msg_id = await channels.send("shell", "execute_request", {"code": "1"})
        idents, frames = kernel.session.feed_identities(await kernel.shell.recv_multipart())
        request = kernel.session.deserialize(frames)
        assert request["header"]["msg_id"] == msg_id
        assert request["content"] == {"code": "1"}
        for i in range(100):
            await kernel.publish("stream", {"name": "stdout", "text": f"{i}\n"})
        reply = kernel.session.msg("execute_reply", {"status": "ok"}, parent=request["header"])
        await kernel.shell.send_multipart([*idents, *kernel.session.serialize(reply)])
        texts, replies = [], []
        with anyio.fail_after(5):
            while len(texts) < 100 or not replies:
                got = await channels.receive()
                assert got is not None
                channel, msg = got
                if channel == "iopub":
                    texts.append(msg["content"]["text"])
                else:
                    assert channel == "shell"
                    replies.append(msg)
        assert texts == [f"{i}\n" for i in range(100)]
        assert replies[0]["parent_header"]["msg_id"] == msg_id
    finally:
        channels.close()


async def test_receive_times_out_and_a_cancelled_wait_loses_nothing(kernel: Kernel) -> None:
    channels = KernelChannels(kernel.client)
    try:
        started = time.monotonic()
        assert await channels.receive(within=0.1) is None
        assert 0.09 <= time.monotonic() - started < 1.0
        assert await channels.receive(within=0) is None
        with anyio.move_on_after(0.05):
            await channels.receive()
        await kernel.publish("status", {"execution_state": "busy"})
        with anyio.fail_after(5):
            got = await channels.receive()
        assert got is not None and got[1]["content"] == {"execution_state": "busy"}
    finally:
        channels.close()


async def test_badly_signed_messages_are_dropped(kernel: Kernel) -> None:
    channels = KernelChannels(kernel.client)
    try:
        forger = Session(key=b"wrong")
        msg = forger.msg("stream", {"name": "stdout", "text": "forged"})
        await kernel.iopub.send_multipart(forger.serialize(msg))
        await kernel.publish("stream", {"name": "stdout", "text": "real"})
        with anyio.fail_after(5):
            got = await channels.receive()
        assert got is not None and got[1]["content"]["text"] == "real"
    finally:
        channels.close()


async def test_close_ends_a_pending_receive(kernel: Kernel) -> None:
    channels = KernelChannels(kernel.client)
    outcome: list[str] = []

    async def wait() -> None:
        try:
            await channels.receive()
        except ChannelsClosed:
            outcome.append("closed")

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()  # wait() is parked in receive()
        channels.close()
    assert outcome == ["closed"]
    channels.close()  # idempotent
    with pytest.raises(ChannelsClosed):
        await channels.send("stdin", "input_reply", {"value": "x"})
