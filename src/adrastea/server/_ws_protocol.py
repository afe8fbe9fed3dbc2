"""The two kernel WebSocket framings of Jupyter Server, kernel side <-> client side.

* ``v1.kernel.websocket.jupyter.org`` (when the client offers it): binary
  frames ``[n][offset_0..offset_n-1][channel][header][parent][metadata]
  [content][buffers...]`` with 8-byte little-endian integers.  Kernel parts
  pass through as they are, without parsing.
* legacy: one JSON text frame per message with a ``channel`` field (or, for
  messages with buffers, Jupyter's older binary framing with 4-byte
  big-endian offsets).  Outgoing JSON is spliced from the kernel's own JSON
  parts; only the small header is parsed, for ``msg_id`` and ``msg_type``.

Parts handed to or returned from a protocol are the four JSON parts and the
buffers, without identities, delimiter or signature.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Sequence
from typing import Any, Protocol

from jupyter_client.session import json_packer
from starlette.types import Message

__all__ = ["V1_SUBPROTOCOL", "LegacyProtocol", "V1Protocol", "WireProtocol", "protocol_for"]

V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"

Parts = list[bytes | memoryview]


class WireProtocol(Protocol):
    """How kernel messages are framed on one WebSocket."""

    subprotocol: str | None

    def to_client(self, channel: bytes, parts: Sequence[bytes], start: int) -> Message:
        """The ``websocket.send`` event for kernel message ``parts[start:]``."""
        ...

    def from_client(self, message: Message) -> tuple[str, Parts] | None:
        """Channel and parts of a ``websocket.receive`` event; None if malformed."""
        ...


class V1Protocol:
    """``v1.kernel.websocket.jupyter.org``: binary frames, parts passed through."""

    subprotocol: str | None = V1_SUBPROTOCOL

    def to_client(self, channel: bytes, parts: Sequence[bytes], start: int) -> Message:
        count = len(parts) - start
        offset = 8 * (count + 3)
        offsets = [offset, offset + len(channel)]
        offset = offsets[-1]
        for index in range(start, len(parts) - 1):
            offset += len(parts[index])
            offsets.append(offset)
        offsets.append(offset + len(parts[-1]))
        head = struct.pack(f"<{count + 3}Q", count + 2, *offsets)
        return {"type": "websocket.send", "bytes": b"".join([head, channel, *parts[start:]])}

    def from_client(self, message: Message) -> tuple[str, Parts] | None:
        data = message.get("bytes")
        if data is None:
            # Be lenient: a v1 client sending JSON text is still understood.
            return _LEGACY.from_client(message)
        try:
            count = int.from_bytes(data[:8], "little")
            if not 6 <= count <= len(data) // 8:
                return None
            offsets = struct.unpack_from(f"<{count}Q", data, 8)
        except struct.error:
            return None
        if list(offsets) != sorted(offsets) or offsets[-1] > len(data):
            return None
        view = memoryview(data)
        try:
            channel = bytes(view[offsets[0] : offsets[1]]).decode()
        except UnicodeDecodeError:
            return None
        return channel, [view[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]


class LegacyProtocol:
    """JSON text frames with a ``channel`` field (binary framing when buffers exist)."""

    subprotocol: str | None = None

    def to_client(self, channel: bytes, parts: Sequence[bytes], start: int) -> Message:
        header, parent, metadata, content = (p or b"{}" for p in parts[start : start + 4])
        pieces = [
            b'{"header":', header,
            b',"msg_id":', _string_field(_MSG_ID, header),
            b',"msg_type":', _string_field(_MSG_TYPE, header),
            b',"parent_header":', parent,
            b',"metadata":', metadata,
            b',"content":', content,
            b',"channel":"', channel, b'"',
        ]  # fmt: skip
        buffers = parts[start + 4 :]
        if not buffers:
            pieces.append(b',"buffers":[]}')
            return {"type": "websocket.send", "text": b"".join(pieces).decode()}
        pieces.append(b"}")
        return {"type": "websocket.send", "bytes": _binary_message(b"".join(pieces), buffers)}

    def from_client(self, message: Message) -> tuple[str, Parts] | None:
        text = message.get("text")
        buffers: list[bytes] = []
        try:
            if text is not None:
                msg = json.loads(text)
            else:
                data = message.get("bytes") or b""
                parsed = _parse_binary_message(data)
                if parsed is None:
                    return None
                msg, buffers = parsed
        except ValueError:
            return None
        if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
            return None
        channel = msg.get("channel") or "shell"
        parts: list[bytes | memoryview] = [
            json_packer(msg["header"]),
            json_packer(msg.get("parent_header") or {}),
            json_packer(msg.get("metadata") or {}),
            json_packer(msg.get("content") or {}),
            *buffers,
        ]
        return str(channel), parts


_LEGACY = LegacyProtocol()

# The header's own msg_id and msg_type, as JSON string literals (copied, not
# re-encoded); a header is a flat object, so the first match is the one.
# Values with escapes do not match and take the slow path.
_MSG_ID = re.compile(rb'"msg_id"\s*:\s*("[^"\\]*")')
_MSG_TYPE = re.compile(rb'"msg_type"\s*:\s*("[^"\\]*")')


def _string_field(pattern: re.Pattern[bytes], header: bytes) -> bytes:
    match = pattern.search(header)
    if match is not None:
        return match.group(1)
    key = "msg_id" if pattern is _MSG_ID else "msg_type"
    try:
        value = json.loads(header).get(key, "")
    except (ValueError, AttributeError):
        value = ""
    return json.dumps(value).encode()


def protocol_for(offered: Sequence[str]) -> WireProtocol:
    """v1 if the client offers it (Jupyter Server's default choice), else legacy."""
    return V1Protocol() if V1_SUBPROTOCOL in offered else _LEGACY


def _binary_message(body: bytes, buffers: Sequence[bytes]) -> bytes:
    # Jupyter's pre-v1 binary framing: [nbufs][offsets...] as 4-byte big-endian, then parts.
    count = 1 + len(buffers)
    offsets = [4 * (count + 1)]
    for chunk in (body, *buffers[:-1]):
        offsets.append(offsets[-1] + len(chunk))
    return b"".join([struct.pack(f"!{count + 1}I", count, *offsets), body, *buffers])


def _parse_binary_message(data: bytes) -> tuple[Any, list[bytes]] | None:
    try:
        count = struct.unpack_from("!I", data)[0]
        if not 1 <= count <= len(data) // 4:
            return None
        offsets = [*struct.unpack_from(f"!{count}I", data, 4), len(data)]
    except struct.error:
        return None
    if offsets != sorted(offsets) or offsets[-1] > len(data):
        return None
    chunks = [data[offsets[i] : offsets[i + 1]] for i in range(count)]
    return json.loads(chunks[0]), chunks[1:]
