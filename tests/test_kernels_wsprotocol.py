"""The kernel WebSocket framings agree with Jupyter Server's own (de)serializers."""

from __future__ import annotations

import json

import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from adrastea.server._ws_protocol import LegacyProtocol, V1Protocol, protocol_for

HEADER = {"msg_id": "m1", "msg_type": "stream", "session": "s", "username": "u", "version": "5.3"}
PARENT = {"msg_id": "p1", "msg_type": "execute_request"}
CONTENT = {"name": "stdout", "text": "héllo\n"}


def kernel_parts(*buffers: bytes) -> list[bytes]:
    """A message as it comes off an iopub socket: topic, DELIM, signature, parts."""
    jsons = [json.dumps(p).encode() for p in (HEADER, PARENT, {"m": 1}, CONTENT)]
    return [b"stream.stdout", b"<IDS|MSG>", b"sig", *jsons, *buffers]


def test_v1_to_client_reads_back_with_jupyter_server() -> None:
    parts = kernel_parts(b"\x00buffer")
    event = V1Protocol().to_client(b"iopub", parts, 3)
    channel, msg_list = deserialize_msg_from_ws_v1(event["bytes"])
    assert channel == "iopub"
    assert msg_list == parts[3:]


def test_v1_from_client_reads_jupyter_server_frames() -> None:
    parts = kernel_parts(b"buf1", b"buf2")[3:]
    frame = serialize_msg_to_ws_v1(parts, "shell")
    channel, got = V1Protocol().from_client({"type": "websocket.receive", "bytes": frame})  # type: ignore[misc]
    assert channel == "shell"
    assert [bytes(p) for p in got] == parts


def test_legacy_to_client_matches_jupyter_server_shape() -> None:
    event = LegacyProtocol().to_client(b"iopub", kernel_parts(), 3)
    msg = json.loads(event["text"])
    assert msg == {
        "header": HEADER,
        "msg_id": "m1",
        "msg_type": "stream",
        "parent_header": PARENT,
        "metadata": {"m": 1},
        "content": CONTENT,
        "buffers": [],
        "channel": "iopub",
    }


def test_legacy_with_buffers_uses_binary_framing() -> None:
    event = LegacyProtocol().to_client(b"iopub", kernel_parts(b"abc", b"de"), 3)
    msg = deserialize_binary_message(event["bytes"])
    assert msg["buffers"] == [b"abc", b"de"]
    assert msg["content"] == CONTENT and msg["channel"] == "iopub"


def test_legacy_from_client_text_and_binary() -> None:
    msg = {
        "header": HEADER,
        "parent_header": {},
        "metadata": {},
        "content": {"code": "1"},
        "channel": "control",
    }
    channel, parts = LegacyProtocol().from_client({"text": json.dumps(msg)})  # type: ignore[misc]
    assert channel == "control"
    assert [json.loads(p) for p in parts] == [HEADER, {}, {}, {"code": "1"}]

    binary = serialize_binary_message({**msg, "buffers": [b"xyz"]})
    channel, parts = LegacyProtocol().from_client({"bytes": binary})  # type: ignore[misc]
    assert channel == "control"
    assert bytes(parts[4]) == b"xyz"


@pytest.mark.parametrize(
    "event",
    [
        {"text": "not json"},
        {"text": json.dumps({"no": "header"})},
        {"text": json.dumps([1, 2])},
        {"bytes": b"\x00\x00"},
        {"bytes": b"\xff" * 40},
    ],
)
def test_malformed_legacy_frames_are_refused(event: dict[str, object]) -> None:
    assert LegacyProtocol().from_client(event) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        (6).to_bytes(8, "little") + b"\x00" * 8,  # offsets cut short
        (6).to_bytes(8, "little") + b"".join(i.to_bytes(8, "little") for i in [99, 1, 2, 3, 4, 5]),
        (2).to_bytes(8, "little") + b"\x00" * 16,  # too few parts
    ],
)
def test_malformed_v1_frames_are_refused(data: bytes) -> None:
    assert V1Protocol().from_client({"bytes": data}) is None


def test_v1_is_chosen_only_when_offered() -> None:
    assert protocol_for(["v1.kernel.websocket.jupyter.org"]).subprotocol is not None
    assert protocol_for([]).subprotocol is None
    assert protocol_for(["something-else"]).subprotocol is None
