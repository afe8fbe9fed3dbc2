"""Opening a big notebook without parsing the outputs it will not show.

A notebook of 500 cells with 100 KB of output each is 50 MB of JSON: parsing
all of it takes longer than a user should wait, and no browser could show it
anyway.  :func:`read_capped` reads the file once; when it holds more output
than ``budget_bytes`` it parses the cells but leaves every output a byte range
of the file (msgspec ``Raw``).  An even share of the budget then goes to each
output ("water-filling": small outputs stay whole, the big ones are all cut to
the same allowance, never above the per-output cap).  Outputs within the
allowance are parsed; every other one is replaced by a stand-in (see
``_capping``) whose head and tail are read from its raw JSON without decoding
the rest, and the file's bytes become a spill snapshot from which the full
output is decoded when someone needs it (a page request, a save).

The result equals ``read_notebook`` + ``cap_notebook`` with a smaller cap for
the big outputs, with one difference: the inside of an output that is never
decoded (a stream's lines, a mime bundle's values) is checked against the
schema when it is decoded, not at the open; an invalid one then fails that
read or save with ``InvalidNotebook``, and the file is never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from adrastea.documents._capping import (
    MARKER_KEY,
    SpillMarker,
    bundle_stand_in,
    cap_notebook,
    cap_output,
    head_text,
    tail_text,
)
from adrastea.documents._ipynb import normalize_notebook, parse_notebook, read_file
from adrastea.documents._spill import Slice, SpillStore
from adrastea.documents.types import FileStamp, OutputId

__all__ = ["PendingRead", "begin_read", "output_allowance", "read_capped"]

Notebook = dict[str, Any]

_MIN_ALLOWANCE = 4096
# Tries to find an element boundary in a head or tail window before giving up
# and decoding the output (only text full of escaped quotes needs more than two).
_MAX_TRIES = 64
_ABSENT = msgspec.Raw(b"")
_PROBE = 64


class _Output(msgspec.Struct, forbid_unknown_fields=True):
    # Every key of an nbformat v4 output, each left raw but the small scalars.
    output_type: str
    name: str | UnsetType = UNSET
    text: msgspec.Raw = _ABSENT
    data: msgspec.Raw = _ABSENT
    metadata: msgspec.Raw = _ABSENT
    execution_count: int | UnsetType | None = UNSET
    ename: msgspec.Raw = _ABSENT
    evalue: msgspec.Raw = _ABSENT
    traceback: msgspec.Raw = _ABSENT

    def size(self) -> int:
        return len(self.text) + len(self.data) + len(self.metadata) + len(self.traceback)


class _Cell(msgspec.Struct, forbid_unknown_fields=True):
    # Every key of an nbformat v4 cell (the schema allows no others).  Plain strings
    # and ints are decoded here; anything else stays raw for the json module, so
    # numbers in metadata come out exactly as the full parser gives them.
    # UNSET tells a missing key from a null one (the schema treats them differently).
    cell_type: str | UnsetType = UNSET
    id: str | UnsetType = UNSET
    metadata: msgspec.Raw = _ABSENT
    source: str | list[str] | UnsetType = UNSET
    attachments: msgspec.Raw = _ABSENT
    execution_count: int | UnsetType | None = UNSET
    outputs: list[_Output] | UnsetType = UNSET


class _Notebook(msgspec.Struct, forbid_unknown_fields=True):
    cells: list[_Cell] | UnsetType = UNSET
    metadata: msgspec.Raw = _ABSENT
    nbformat: int | UnsetType = UNSET
    nbformat_minor: int | UnsetType = UNSET


_CELL_FIELDS = ("id", "cell_type", "metadata", "source", "attachments", "execution_count")
_OUTPUT_FIELDS = (
    "output_type", "name", "text", "data", "metadata", "execution_count", "ename", "evalue",
    "traceback",
)  # fmt: skip
_BIG_FIELDS = ("text", "data", "traceback")
_SMALL_FIELDS = tuple(name for name in _OUTPUT_FIELDS if name not in _BIG_FIELDS)
_SKELETON = msgspec.json.Decoder(_Notebook)
_MIME_BUNDLE = msgspec.json.Decoder(dict[str, msgspec.Raw])
_STRINGS = msgspec.json.Decoder(list[str])


class PendingRead:
    """A notebook read by :func:`begin_read` whose spill snapshot may still be being written.

    ``nb`` can be used at once; :meth:`stamp` says which bytes it came from.
    :meth:`finish` must be called (from any thread) before its spilled outputs
    are read or anything that refers to them is made durable, or
    :meth:`abandon` if the notebook is not used after all.
    """

    def __init__(
        self,
        nb: Notebook,
        stamp: Callable[[], FileStamp],
        settle: Callable[[], None],
        drop: Callable[[], None],
    ):
        self.nb = nb
        self._stamp = stamp
        self._settle = settle
        self._drop = drop

    def stamp(self) -> FileStamp:
        """The stamp of the bytes read (waits for their hash, which is computed alongside)."""
        return self._stamp()

    def finish(self) -> FileStamp:
        """Wait until the spilled outputs are durable and readable; returns :meth:`stamp`.

        Raises:
            OSError: the snapshot could not be written (it is removed again).
        """
        try:
            self._settle()
            return self._stamp()
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Remove whatever this read put in the spill folder."""
        with contextlib.suppress(Exception):  # the write itself may be what failed
            self._drop()


def read_capped(
    path: Path, spill: SpillStore, *, cap_bytes: int, budget_bytes: int
) -> tuple[Notebook, FileStamp]:
    """:func:`begin_read` and :meth:`PendingRead.finish` in one call."""
    pending = begin_read(path, spill, cap_bytes=cap_bytes, budget_bytes=budget_bytes)
    return pending.nb, pending.finish()


def begin_read(path: Path, spill: SpillStore, *, cap_bytes: int, budget_bytes: int) -> PendingRead:
    """Read ``path`` into a validated notebook in in-memory form, big outputs spilled.

    The notebook holds stand-ins for spilled outputs.  Their snapshot (and the
    stamp's hash) is written by a thread while the cells are parsed and after:
    hashing and writing release the GIL, so the caller can build its document
    meanwhile and then call :meth:`PendingRead.finish`.  Blocking; call it off
    the event loop.

    Raises:
        FileNotFound: ``path`` does not exist.
        InvalidNotebook: the file is not a valid notebook; nothing is left in ``spill``.
    """
    data, st = read_file(path)
    if len(data) <= budget_bytes:
        nb = cap_notebook(parse_notebook(data), spill, cap_bytes)
        return _settled(nb, FileStamp.of_bytes(data, st))
    # Probably some outputs will be spilled: start writing the snapshot and hashing
    # now, in threads of their own (both release the GIL), while the cells are parsed.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="adrastea-snapshot")
    digest = pool.submit(lambda: hashlib.sha256(data).hexdigest())
    snapshot = pool.submit(spill.write_snapshot, data)
    pool.shutdown(wait=False)  # the threads end with their work

    def drop() -> None:
        spill.discard_snapshot(snapshot.result())

    try:
        skeleton = _skim(data)
        if skeleton is None:
            nb = cap_notebook(parse_notebook(data), spill, cap_bytes)
            built = None
        else:
            nb, built = _build(data, skeleton, spill, cap_bytes, budget_bytes)
    except BaseException:
        with contextlib.suppress(Exception):
            drop()
        raise

    def stamp() -> FileStamp:
        return FileStamp(st.st_mtime_ns, st.st_size, digest.result())

    def settle() -> None:
        if built is None or not built.slices:
            drop()  # nothing refers to it
        else:
            spill.add_slices(snapshot.result(), built.slices)

    return PendingRead(nb, stamp, settle, drop)


def _build(
    data: bytes, skeleton: _Notebook, spill: SpillStore, cap_bytes: int, budget_bytes: int
) -> tuple[Notebook, _Built]:
    """The notebook from its skeleton, outputs past the allowance replaced by stand-ins."""
    assert isinstance(skeleton.cells, list)  # see _skim
    sizes = [output.size() for cell in skeleton.cells for output in _outputs(cell)]
    allowance = output_allowance(sizes, budget_bytes, cap_bytes)
    built = _Builder(data, allowance).build(skeleton)
    nb = normalize_notebook(built.nb)
    for (cell, index), output in built.decoded_over.items():
        nb["cells"][cell]["outputs"][index] = cap_output(output, spill, allowance)
    for (cell, index), stand_in in built.stand_ins.items():
        nb["cells"][cell]["outputs"][index] = stand_in
    return nb, built


def _settled(nb: Notebook, stamp: FileStamp) -> PendingRead:
    return PendingRead(nb, lambda: stamp, lambda: None, lambda: None)


def output_allowance(sizes: list[int], budget: int, cap: int) -> int:
    """The largest size ``a`` with ``sum(min(s, a) for s in sizes) <= budget``.

    Kept within ``[4096, cap]``: outputs are never shown bigger than the cap,
    and a notebook with very many outputs gets previews of a useful size even
    if that overruns the budget.
    """
    remaining = budget
    ordered = sorted(sizes)
    for i, size in enumerate(ordered):
        share = remaining // (len(ordered) - i)
        if size > share:
            return max(_MIN_ALLOWANCE, min(share, cap))
        remaining -= size
    return cap


def _skim(data: bytes) -> _Notebook | None:
    """The notebook with its outputs left raw, or None where only the full parser can
    decide (not v4 JSON, an unexpected shape: it then gives the precise error)."""
    try:
        skeleton = _SKELETON.decode(data)
        if skeleton.nbformat != 4 or skeleton.cells is UNSET:
            return None
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    return skeleton


@dataclass
class _Built:
    nb: Notebook
    stand_ins: dict[tuple[int, int], Notebook] = field(default_factory=dict)
    decoded_over: dict[tuple[int, int], Notebook] = field(default_factory=dict)
    slices: dict[OutputId, Slice] = field(default_factory=dict)


class _Builder:
    """Turns a skeleton into a notebook dict; outputs over ``allowance`` become stand-ins.

    A stand-in is not schema-valid, so the notebook first gets a minimal valid
    *proxy* (same output type, name, mime types) in its place, and the
    stand-ins are put in after validation.  The slice of a stream is the JSON of
    its ``text``, that of a mime bundle the JSON of its ``data``; the other
    fields go with the slice into the snapshot's index.
    """

    def __init__(self, data: bytes, allowance: int) -> None:
        self._data = data
        self._allowance = allowance
        self._pos = 0  # outputs appear in file order: search each from the last one's end

    def build(self, skeleton: _Notebook) -> _Built:
        nb = _fields(skeleton, ("metadata", "nbformat", "nbformat_minor"))
        assert isinstance(skeleton.cells, list)  # see _skim
        built = _Built(nb)
        cells: list[Notebook] = []
        for i, ycell in enumerate(skeleton.cells):
            cell = _fields(ycell, _CELL_FIELDS)
            if not isinstance(ycell.outputs, UnsetType):
                cell["outputs"] = [
                    self._output(built, (i, j), output) for j, output in enumerate(ycell.outputs)
                ]
            cells.append(cell)
        nb["cells"] = cells
        return built

    def _output(self, built: _Built, where: tuple[int, int], output: _Output) -> Notebook:
        if output.size() <= self._allowance:
            return _fields(output, _OUTPUT_FIELDS)
        decoded = _fields(output, _SMALL_FIELDS)
        made: tuple[Notebook, Notebook, Slice] | None = None
        if output.output_type == "stream" and output.text is not _ABSENT:
            made = self._stream(output, decoded)
        elif (
            output.output_type in ("display_data", "execute_result") and output.data is not _ABSENT
        ):
            made = self._bundle(output, decoded)
        if made is None:
            # An error, or no element boundary found: decode it whole and cap it the
            # usual way after validation.
            decoded.update(_fields(output, _BIG_FIELDS))
            built.decoded_over[where] = decoded
            return decoded
        proxy, stand_in, spilled = made
        built.stand_ins[where] = stand_in
        built.slices[OutputId(stand_in["metadata"][MARKER_KEY]["output_id"])] = spilled
        return proxy

    def _stream(
        self, output: _Output, decoded: Notebook
    ) -> tuple[Notebook, Notebook, Slice] | None:
        offset = self._locate(output.text)
        if offset < 0:
            return None
        output_id = SpillStore.new_id()
        size = len(output.text)
        text = self._preview(output.text, output_id, size)
        if text is None:
            return None
        self._pos = offset + size
        marker = SpillMarker(output_id, "stream", size, committed_bytes=size)
        proxy = {**decoded, "text": ""}
        stand_in = {**proxy, "text": text, "metadata": {MARKER_KEY: marker.to_json()}}
        return proxy, stand_in, Slice(offset, size, "stream", "text", decoded)

    def _bundle(
        self, output: _Output, decoded: Notebook
    ) -> tuple[Notebook, Notebook, Slice] | None:
        offset = self._locate(output.data)
        if offset < 0:
            return None
        try:
            data = _MIME_BUNDLE.decode(output.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        self._pos = offset + len(output.data)
        output_id = SpillStore.new_id()
        proxy = {**decoded, "data": dict.fromkeys(data, "")}
        shown: dict[str, Any] = dict.fromkeys(data, "")
        plain = data.get("text/plain")
        if plain is not None and len(plain) <= self._allowance // 2:
            value = _loads(plain)
            shown["text/plain"] = "".join(value) if isinstance(value, list) else value
        marker = SpillMarker(output_id, "output", total_bytes=output.size())
        stand_in = bundle_stand_in({**proxy, "data": shown}, marker, self._allowance)
        return proxy, stand_in, Slice(offset, len(output.data), "output", "data", decoded)

    def _locate(self, raw: msgspec.Raw) -> int:
        """Where bytes equal to ``raw`` are in the file, searching from the last output.

        Any place holding the same bytes serves (the slice is all that is read back).
        bytes.find is slow for a long needle, so look for its start and compare the rest.
        """
        view = memoryview(raw)
        start = self._pos
        while (found := self._data.find(view[:_PROBE], start)) >= 0:
            if self._data.startswith(view, found):
                return found
            start = found + 1
        return -1

    def _preview(self, raw: msgspec.Raw, output_id: str, size: int) -> str | None:
        """Head, note and tail of a stream's raw ``text``, or None if they cannot be found."""
        budget = max(1, (self._allowance - 256) // 2)
        view = memoryview(raw)
        if view[:1].tobytes() == b'"':
            # One string: a single object to decode, cheap whatever its size.
            text = _loads(raw)
            if not isinstance(text, str):
                return None
            head, tail = head_text(text, budget), tail_text(text, budget)
        else:
            found_head, found_tail = _array_head(view, budget), _array_tail(view, budget)
            if found_head is None or found_tail is None:
                return None
            head, tail = found_head, tail_text(found_tail, budget)
        note = (
            f"\n… not shown: the middle of this output ({size:,} bytes in the file); "
            f"full output: {output_id} …\n"
        )
        return head + note + tail


def _array_head(raw: memoryview, budget: int) -> str | None:
    """The whole leading elements of the JSON string array ``raw`` within ``budget``
    bytes, joined; None if not even one fits or they are not strings.

    The window is cut after a quote and closed with ``]``: only a cut after an
    element's closing quote parses, so what parses is an exact prefix.
    """
    window = raw[:budget].tobytes()
    end = len(window)
    for _ in range(_MAX_TRIES):
        end = window.rfind(b'"', 0, end)
        if end <= 0:
            return None
        try:
            return "".join(_STRINGS.decode(window[: end + 1] + b"]"))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return None


def _array_tail(raw: memoryview, budget: int) -> str | None:
    """A suffix of the text of the JSON string array ``raw`` from within its last
    ``budget`` bytes; None if none is found.

    The window is opened with ``[`` before a quote.  Before an element's opening
    quote that parses; before a closing one it cannot (an odd number of quotes
    would remain); before an escaped quote inside an element it may, and then
    yields the rest of that element, still a suffix of the text.
    """
    window = raw[len(raw) - budget :].tobytes()
    start = -1
    for _ in range(_MAX_TRIES):
        start = window.find(b'"', start + 1)
        if start < 0:
            return None
        try:
            return "".join(_STRINGS.decode(b"[" + window[start:]))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return None


def _outputs(cell: _Cell) -> list[_Output]:
    return [] if isinstance(cell.outputs, UnsetType) else cell.outputs


def _fields(struct: msgspec.Struct, names: tuple[str, ...]) -> Notebook:
    """The present ``names`` of ``struct``; raw ones decoded by the standard json module."""
    fields = {}
    for name in names:
        value = getattr(struct, name)
        if value is _ABSENT or value is UNSET:
            continue
        fields[name] = _loads(value) if isinstance(value, msgspec.Raw) else value
    return fields


def _loads(raw: msgspec.Raw) -> Any:
    return json.loads(memoryview(raw).tobytes())
