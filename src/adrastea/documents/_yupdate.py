"""A whole notebook as one Yjs update, written directly instead of item by item.

Building a ``YNotebook`` from prelim ``Map``/``Text``/``Array`` objects crosses
from Python into yrs once per item and opens a transaction for each; for a big
notebook that is most of its load time.  :func:`notebook_update` writes the
update those prelims would produce (Yjs's v1 encoding: lib0 varints, one
struct list for one client, an empty delete set) in a single pass, and one
``apply_update`` integrates it.  The update is also the document's first
journal record and what a client that syncs from nothing receives.

The layout is exactly that of ``_ynotebook.new_ycell`` / ``new_youtput``; a
test builds documents both ways and compares them value by value and type by
type.  Encoding rules follow yrs: numbers are doubles, written as float32 when
that is exact, except integers no double holds (a 64-bit "bigint"); a string's
clock length is its length in UTF-16 code units.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from adrastea.documents._validation import new_cell_id

__all__ = ["notebook_update"]

# Item info byte: the content kind in the low bits, then which fields follow.
_ORIGIN = 0x80
_PARENT_SUB = 0x20
_STRING = 4
_TYPE = 7
_ANY = 8
# Type refs of ContentType.
_ARRAY = 0
_MAP = 1
_TEXT = 2
# lib0 "any" tags.
_NULL, _FLOAT64, _FLOAT32, _BIGINT, _FALSE, _TRUE = 126, 123, 124, 122, 121, 120
_STR, _OBJECT, _LIST = 119, 118, 117

_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")
_I64 = struct.Struct(">q")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def notebook_update(nb: Mapping[str, Any], client_id: int, state: Mapping[str, Any]) -> bytes:
    """The update that fills an empty ``YNotebook`` with ``nb`` (in-memory form) and its
    ``state`` map with ``state``, as items of ``client_id``.

    Raises:
        TypeError: a value is not JSON data.
        ValueError: a string cannot be encoded (a lone surrogate).
        OverflowError: an integer beyond the range of doubles.
    """
    writer = _Writer(client_id)
    writer.entries(_root("state"), state)
    meta = _root("meta")
    writer.entries(meta, {"nbformat": nb.get("nbformat", 4)})
    writer.entries(meta, {"nbformat_minor": nb.get("nbformat_minor", 5)})
    writer.map(meta, "metadata", nb.get("metadata", {}))
    cells = _root("cells")
    previous: int | None = None
    for cell in nb.get("cells", []):
        previous = writer.cell(cells, previous, cell)
    return writer.finish()


class _Writer:
    """Items of one client, in clock order, appended to one buffer.

    A *parent* is the encoded reference to the type an item belongs to: a root
    type by name (:func:`_root`) or a nested one by its item's id (:meth:`_ref`).
    """

    def __init__(self, client_id: int) -> None:
        self._out = bytearray()
        # Long strings go here as they are, between finished pieces of _out, so
        # that the megabytes of a notebook's text are copied once, by finish().
        # Only text() starts a new _out; no method holds the old one across a call to it.
        self._pieces: list[bytes | bytearray] = []
        self._client = _uint(client_id)
        self._clock = 0
        self._items = 0
        self._keys: dict[str, bytes] = {}

    def finish(self) -> bytes:
        head = _uint(1) + _uint(self._items) + self._client + _uint(0)
        return b"".join([head, *self._pieces, self._out, _uint(0)])  # + empty delete set

    # -- notebook structure (mirrors _ynotebook.new_ycell / new_youtput) ---------------

    def cell(self, cells: bytes, previous: int | None, cell: Mapping[str, Any]) -> int:
        """Append ``cell`` to the ``cells`` array after the item ``previous``."""
        code = cell.get("cell_type") == "code"
        clock = self._element(_MAP, cells, previous)
        ycell = self._ref(clock)
        fields = dict(cell)
        if "id" not in fields:
            fields["id"] = new_cell_id()
        source = fields.pop("source", "")
        metadata = fields.pop("metadata", {})
        outputs = fields.pop("outputs", []) if code else None
        if code:
            fields["execution_state"] = "idle"  # as new_ycell: JupyterLab reads it
        self.entries(ycell, fields)
        self.text(ycell, "source", source if isinstance(source, str) else "".join(source))
        self.map(ycell, "metadata", metadata)
        if outputs is not None:
            array = self._ref(self._typed(_ARRAY, ycell, "outputs"))
            last: int | None = None
            for output in outputs:
                last = self.output(array, last, output)
        return clock

    def output(self, outputs: bytes, previous: int | None, output: Mapping[str, Any]) -> int:
        clock = self._element(_MAP, outputs, previous)
        youtput = self._ref(clock)
        if output.get("output_type") != "stream":
            self.entries(youtput, output)
            return clock
        fields = dict(output)
        text = fields.pop("text", "")
        self.entries(youtput, fields)
        self.text(youtput, "text", text if isinstance(text, str) else "".join(text))
        return clock

    def map(self, parent: bytes, key: str, values: Mapping[str, Any]) -> None:
        self.entries(self._ref(self._typed(_MAP, parent, key)), values)

    def text(self, parent: bytes, key: str, text: str) -> None:
        ytext = self._ref(self._typed(_TEXT, parent, key))
        if text:
            out = self._out
            out.append(_STRING)
            out += ytext
            raw = text.encode()
            out += _uint(len(raw))
            if len(raw) < _LONG:
                out += raw
            else:
                self._pieces += (out, raw)
                self._out = bytearray()
            self._items += 1
            self._clock += len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2

    def entries(self, parent: bytes, values: Mapping[str, Any]) -> None:
        """One map entry (a single-value "any" item) per key of ``values``."""
        out = self._out
        keys = self._keys
        for key, value in values.items():
            encoded = keys.get(key)
            if encoded is None:
                raw = key.encode()
                encoded = keys[key] = _uint(len(raw)) + raw
            out.append(_ANY | _PARENT_SUB)
            out += parent
            out += encoded
            out.append(1)  # one value
            self._any(value)
        self._items += len(values)
        self._clock += len(values)

    # -- items -------------------------------------------------------------------------

    def _ref(self, clock: int) -> bytes:
        return b"\x00" + self._client + _uint(clock)

    def _typed(self, type_ref: int, parent: bytes, key: str) -> int:
        """A nested type as the entry ``key`` of ``parent``; returns its clock."""
        out = self._out
        out.append(_TYPE | _PARENT_SUB)
        out += parent
        raw = key.encode()
        out += _uint(len(raw))
        out += raw
        out.append(type_ref)
        return self._next()

    def _element(self, type_ref: int, parent: bytes, previous: int | None) -> int:
        """A nested type appended to the array ``parent`` after the item ``previous``."""
        out = self._out
        if previous is None:
            out.append(_TYPE)
            out += parent
        else:  # the left neighbour is the origin, which also names the parent
            out.append(_TYPE | _ORIGIN)
            out += self._client
            out += _uint(previous)
        out.append(type_ref)
        return self._next()

    def _next(self) -> int:
        clock = self._clock
        self._clock += 1
        self._items += 1
        return clock

    def _any(self, value: Any) -> None:
        out = self._out
        if isinstance(value, str):
            raw = value.encode()
            out.append(_STR)
            out += _uint(len(raw))
            out += raw
        elif value is None:
            out.append(_NULL)
        elif value is True:
            out.append(_TRUE)
        elif value is False:
            out.append(_FALSE)
        elif isinstance(value, int) and float(value) != value and _I64_MIN <= value <= _I64_MAX:
            out.append(_BIGINT)  # as yrs stores an int that no double holds exactly
            out += _I64.pack(value)
        elif isinstance(value, (int, float)):
            number = float(value)  # OverflowError past the range of doubles
            packed = _F32.pack(number) if abs(number) <= _F32_MAX else b""
            if packed and _F32.unpack(packed)[0] == number:
                out.append(_FLOAT32)
                out += packed
            else:
                out.append(_FLOAT64)
                out += _F64.pack(number)
        elif isinstance(value, dict):
            out.append(_OBJECT)
            out += _uint(len(value))
            for name, item in value.items():
                raw = name.encode()
                out += _uint(len(raw))
                out += raw
                self._any(item)
        elif isinstance(value, list):
            out.append(_LIST)
            out += _uint(len(value))
            for item in value:
                self._any(item)
        else:
            raise TypeError(f"not JSON data: {type(value).__name__}")


_F32_MAX = 3.4028234663852886e38
_LONG = 4096


def _root(name: str) -> bytes:
    raw = name.encode()
    return b"\x01" + _uint(len(raw)) + raw


def _uint(value: int) -> bytes:
    """lib0's unsigned varint."""
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [bytes([i]) for i in range(0x80)]
