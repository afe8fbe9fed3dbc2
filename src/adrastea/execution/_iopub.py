"""Decoding kernel messages without holding a huge output twice.

jupyter_client's receive copies every message out of zmq and decodes its
content whole: a 50 MB print then lives three times in the server (zmq's
buffer, the bytes, the decoded text).  :func:`decode_message` works on the
frames as zmq holds them and, for a big ``stream`` message, decodes the text
lazily in slices (:class:`StreamText`) that the runner hands on one by one,
so the server holds the output once, in zmq's buffer, and briefly one slice
of it.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import zmq

__all__ = ["StreamText", "decode_message"]

_DELIM = b"<IDS|MSG>"
#: Contents up to this size are decoded whole, as jupyter_client would.
_BIG = 1 << 20
#: Bytes of JSON string decoded at a time.
_SLICE = 1 << 20
# The key and opening quote of a stream's text, at the top level of its content.
_TEXT_KEY = re.compile(rb'"text"\s*:\s*"')


class StreamText:
    """The ``text`` of a big stream message, decoded on demand in slices.

    ``view`` holds the JSON string's body (between its quotes, escapes
    intact); :meth:`slices` yields it decoded, about ``_SLICE`` bytes at a
    time, never cutting an escape sequence, a surrogate pair or a UTF-8
    character.
    """

    def __init__(self, view: memoryview) -> None:
        self.view = view

    def slices(self) -> Iterator[str]:
        view, start = self.view, 0
        while start < len(view):
            end, size = start, _SLICE
            while end <= start:  # a slice smaller than one escape: take more
                end, size = _safe_cut(view, start + size), size + 12
            yield json.loads(b'"' + bytes(view[start:end]) + b'"')
            start = end


def _safe_cut(view: memoryview, cut: int) -> int:
    """The largest cut point <= ``cut`` that splits no escape, surrogate pair or character."""
    if cut >= len(view):
        return len(view)
    while cut > 0 and view[cut] & 0xC0 == 0x80:  # inside a UTF-8 sequence
        cut -= 1
    # Only the last backslash before the cut can start an escape that crosses
    # it: one after it would be later, and if it closes a "\\" pair, that
    # pair is whole.
    window = bytes(view[max(0, cut - 12) : cut])
    last = window.rfind(b"\\")
    if last == -1:
        return cut
    begin = cut - len(window) + last
    run = 1
    while begin - run >= 0 and view[begin - run] == 0x5C:
        run += 1
    if run % 2 == 0:
        return cut
    escape = window[last:]
    unicode = escape[1:2] == b"u"
    cut_short = len(escape) < (6 if unicode else 2)
    if cut_short or (unicode and 0xD800 <= int(escape[2:6], 16) <= 0xDBFF):
        # An escape cut short, or a high surrogate whose low half follows.  The
        # escape before ``begin`` may be a high half too: look again from there.
        return _safe_cut(view, begin)
    return cut


_QUOTE = re.compile(rb'"')


def _string_end(view: memoryview, start: int) -> int:
    """Index of the quote closing the JSON string whose body starts at ``start``, or -1."""
    for match in _QUOTE.finditer(view, start):
        quote = match.start()
        run = 0
        while quote - run - 1 >= start and view[quote - run - 1] == 0x5C:
            run += 1
        if run % 2 == 0:
            return quote
    return -1


def _big_stream_content(view: memoryview) -> dict[str, Any] | None:
    """``{"name": …, "text": StreamText}`` for a stream content, or None if not that shape."""
    head = bytes(view[:256])
    match = _TEXT_KEY.search(head)
    if match is None:
        return None
    start = match.end()
    end = _string_end(view, start)
    if end == -1:
        return None
    try:
        rest = json.loads(head[: match.start()] + b'"text": ""' + bytes(view[end + 1 :]))
    except ValueError:
        return None
    if not isinstance(rest, dict) or not isinstance(rest.get("name"), str):
        return None
    rest["text"] = StreamText(view[start:end])
    return rest


def decode_message(frames: list[zmq.Frame], auth: hmac.HMAC | None) -> dict[str, Any] | None:
    """The message in ``frames`` (as received, identities first), or None if malformed.

    Messages have ``header``, ``parent_header``, ``metadata`` and
    ``content`` like jupyter_client's (dates are left as strings).  A
    ``stream`` message over 1 MB has a :class:`StreamText` as
    ``content["text"]``.  With ``auth`` (the session's signing key), a
    message failing the signature check is None.
    """
    # Length first: ``.bytes`` of a 50 MB part would copy it.
    delim = next(
        (i for i, f in enumerate(frames) if len(f) == len(_DELIM) and f.bytes == _DELIM), None
    )
    if delim is None:
        return None
    parts = frames[delim + 1 :]
    if len(parts) < 5:
        return None
    if auth is not None:
        mac = auth.copy()
        for part in parts[1:5]:
            mac.update(part.buffer)
        if not hmac.compare_digest(mac.hexdigest().encode(), parts[0].bytes):
            return None
    header = json.loads(parts[1].bytes)
    message = {
        "header": header,
        "msg_type": header.get("msg_type"),
        "parent_header": json.loads(parts[2].bytes),
        "metadata": json.loads(parts[3].bytes),
        "content": None,
        "buffers": [part.buffer for part in parts[5:]],
    }
    content = parts[4]
    if len(content) > _BIG and header.get("msg_type") == "stream":
        message["content"] = _big_stream_content(content.buffer)
    if message["content"] is None:
        message["content"] = json.loads(content.bytes)
    return message
