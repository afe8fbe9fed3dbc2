"""The spill folder: full copies of outputs too big for the live document.

One file per output id: ``<id>.txt`` holds a stream's text (UTF-8, appended as
it arrives, so a 50 MB stream is never in memory at once); ``<id>.json`` holds
a whole rich output (a mime bundle or an error) as JSON.  Files are only ever
appended to or written once, so readers may read them while a stream grows.

A *snapshot* serves the outputs of a notebook opened from disk without parsing
them: ``snapshot-<hex>.data`` is a byte copy of the ``.ipynb`` as it was read,
and ``snapshot-<hex>.slices`` maps output ids to a :class:`Slice`: the byte
range of the JSON of one field of the output (a stream's ``text``, a bundle's
``data``) and the output's other, small fields (the index is written after the
data, atomically: it always points at complete data).  A slice is decoded
when it is read; the first page request materializes it as a ``.txt`` or
``.json`` file like any other, so page offsets stay stable.  A snapshot is
deleted once none of its ids is kept.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from adrastea.documents._ipynb import atomic_write, check_output, write_chunks_atomically
from adrastea.documents.types import OutputId
from adrastea.errors import InvalidNotebook, NotFound

__all__ = ["Kind", "Slice", "SpillPage", "SpillStore", "SpillStream"]

_ID = re.compile(r"[0-9a-f]{32}")
_READ_CHUNK = 1 << 20
_DEFAULT_PAGE = 1 << 20
_SNAPSHOT = "snapshot-"
# uuid4 per id reads /dev/urandom each time (0.1 ms here): one random prefix per process.
_ID_PREFIX = uuid.uuid4().hex[:16]
_ID_COUNTER = itertools.count()

Kind = Literal["stream", "output"]


@dataclass(frozen=True)
class Slice:
    """One output in a snapshot: ``fields`` plus ``key`` whose JSON is at ``offset``."""

    offset: int
    length: int
    kind: Kind
    key: str
    fields: dict[str, Any]

    def to_json(self) -> list[Any]:
        return [self.offset, self.length, self.kind, self.key, self.fields]

    @classmethod
    def from_json(cls, value: Any) -> Slice:
        offset, length, kind, key, fields = value
        if not isinstance(fields, dict) or key not in ("text", "data"):
            raise ValueError("not a slice")
        return cls(
            int(offset), int(length), "stream" if kind == "stream" else "output", key, fields
        )


@dataclass(frozen=True)
class _Sliced:
    data: Path
    slice: Slice


@dataclass(frozen=True)
class SpillPage:
    """One page of a spilled output, for paged reading by clients.

    ``offset`` and ``next_offset`` are byte offsets in the spill file, moved
    to UTF-8 character boundaries; ``text`` is the decoded page.  ``kind`` is
    ``"stream"`` (the text itself) or ``"output"`` (the output's JSON).
    """

    output_id: OutputId
    kind: Kind
    offset: int
    next_offset: int
    total_bytes: int
    text: str

    @property
    def eof(self) -> bool:
        """True if this page reaches the end of what is on disk now."""
        return self.next_offset >= self.total_bytes


class SpillStream:
    """An open, append-only stream spill file.  Not thread-safe; one writer."""

    def __init__(self, output_id: OutputId, path: Path) -> None:
        self.output_id = output_id
        self._file: BinaryIO = path.open("ab")
        self.bytes_written = self._file.tell()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def append(self, text: str) -> None:
        """Append ``text`` (buffered; :meth:`flush` hands it to the OS)."""
        data = text.encode()
        self._file.write(data)
        self.bytes_written += len(data)

    def flush(self) -> None:
        """Hand buffered text to the OS: from now on it survives a kill -9."""
        if not self._file.closed:
            self._file.flush()

    def sync(self) -> None:
        """Flush and fsync: from now on it survives a machine crash."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class SpillStore:
    """The spill folder of one notebook.

    Output ids are 32 lowercase hex digits; any other id (for example from a
    client asking for a page) is refused with :class:`adrastea.errors.NotFound`
    before a path is built from it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[OutputId, SpillStream] = {}
        self._slices: dict[str, _Sliced] | None = None  # read from the indexes when first needed

    @staticmethod
    def new_id() -> OutputId:
        """A fresh id, unique across processes (random prefix) and cheap (a counter)."""
        return OutputId(f"{_ID_PREFIX}{next(_ID_COUNTER):016x}")

    def open_stream(self, output_id: OutputId) -> SpillStream:
        """Open (create or continue) the stream spill file of ``output_id`` for appending."""
        self._check(output_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        stream = SpillStream(output_id, self._path(output_id, "txt"))
        self._open[output_id] = stream
        return stream

    def release(self, stream: SpillStream) -> None:
        """Close ``stream`` (its output is complete)."""
        stream.close()
        self._open.pop(stream.output_id, None)

    def write_output(self, output_id: OutputId, output: dict[str, Any]) -> int:
        """Store a whole rich output as JSON; returns its size in bytes."""
        self._check(output_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(output, ensure_ascii=False).encode()
        atomic_write(self._path(output_id, "json"), data)
        return len(data)

    def write_text(self, output_id: OutputId, text: str) -> int:
        """Store a complete stream text at once (used when capping a loaded notebook)."""
        self._check(output_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        atomic_write(self._path(output_id, "txt"), data)
        return len(data)

    def write_snapshot(self, data: bytes) -> Path:
        """Store ``data`` (the bytes of a notebook file) as a new snapshot, durably.

        Returns the snapshot's data file.  Its outputs are unknown until
        :meth:`add_slices` names them; a snapshot never named is removed by
        :meth:`collect`.  Blocking; releases the GIL while it writes.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{_SNAPSHOT}{uuid.uuid4().hex}.data"
        view = memoryview(data)
        write_chunks_atomically(
            path, (view[i : i + _READ_CHUNK] for i in range(0, len(view), _READ_CHUNK))
        )
        return path

    def add_slices(self, data: Path, slices: Mapping[OutputId, Slice]) -> None:
        """Name outputs in the snapshot ``data`` (durably: an index written atomically)."""
        for output_id in slices:
            self._check(output_id)
        index = {"slices": {k: v.to_json() for k, v in slices.items()}}
        atomic_write(data.with_suffix(".slices"), json.dumps(index).encode())
        known = self._known_slices()
        for output_id, found in slices.items():
            known[output_id] = _Sliced(data, found)

    def discard_snapshot(self, data: Path) -> None:
        """Remove a snapshot that was written but must not be used (its load failed)."""
        data.with_suffix(".slices").unlink(missing_ok=True)
        data.unlink(missing_ok=True)

    def kind(self, output_id: str) -> Kind:
        """Whether ``output_id`` is a spilled stream or a spilled rich output.

        Raises:
            NotFound: no such spilled output.
        """
        self._check(output_id)
        if self._path(output_id, "txt").exists():
            return "stream"
        if self._path(output_id, "json").exists():
            return "output"
        if (found := self._known_slices().get(output_id)) is not None:
            return found.slice.kind
        raise NotFound(f"no spilled output {output_id}")

    def read(self, output_id: str, offset: int = 0, limit: int = _DEFAULT_PAGE) -> SpillPage:
        """Read about ``limit`` bytes of a spilled output from byte ``offset``.

        Offsets are moved to character boundaries, so pages always decode and
        following ``next_offset`` reads every byte exactly once.

        Raises:
            NotFound: no such spilled output.
            ValueError: a negative offset or a limit below 4.
        """
        if offset < 0 or limit < 4:
            raise ValueError("offset must be >= 0 and limit >= 4")
        kind = self.kind(output_id)
        self._materialize(output_id)
        path = self._path(output_id, "txt" if kind == "stream" else "json")
        with path.open("rb") as f:
            total = os.fstat(f.fileno()).st_size
            f.seek(offset)
            data = f.read(limit)
        skip = 0
        while skip < len(data) and skip < 3 and (data[skip] & 0xC0) == 0x80:
            skip += 1
        data = data[skip:]
        data = data[: _complete_utf8(data)]
        return SpillPage(
            output_id=OutputId(output_id),
            kind=kind,
            offset=offset + skip,
            next_offset=offset + skip + len(data),
            total_bytes=total,
            text=data.decode(errors="replace"),
        )

    def iter_text(self, output_id: str, end: int | None = None) -> Iterator[str]:
        """Yield a spilled stream's text in chunks, up to byte ``end`` (all if None).

        Raises:
            NotFound: no such spilled stream.
        """
        self._check(output_id)
        path = self._path(output_id, "txt")
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            f = path.open("rb")
        except FileNotFoundError as exc:
            found = self._known_slices().get(output_id)
            if found is None or found.slice.kind != "stream":
                raise NotFound(f"no spilled stream {output_id}") from exc
            yield _cut(_stream_text(self._load_slice(found)), end)
            return
        with f:
            remaining = end
            while remaining is None or remaining > 0:
                size = _READ_CHUNK if remaining is None else min(_READ_CHUNK, remaining)
                data = f.read(size)
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield decoder.decode(data)
        yield decoder.decode(b"", final=True)

    def load_output(self, output_id: str) -> dict[str, Any]:
        """The full rich output stored for ``output_id``.

        Raises:
            NotFound: no such spilled output.
        """
        self._check(output_id)
        try:
            data = self._path(output_id, "json").read_bytes()
        except FileNotFoundError as exc:
            found = self._known_slices().get(output_id)
            if found is None:
                raise NotFound(f"no spilled output {output_id}") from exc
            return self._load_slice(found)
        output: dict[str, Any] = json.loads(data)
        return output

    def exists(self, output_id: str) -> bool:
        try:
            self.kind(output_id)
        except NotFound:
            return False
        return True

    def open_ids(self) -> set[OutputId]:
        """Ids of streams still open for appending."""
        return set(self._open)

    def collect(self, keep: Collection[str]) -> int:
        """Delete spill files whose id is neither in ``keep`` nor open, and snapshots none of
        whose ids is kept; returns how many files."""
        if not self.folder.is_dir():
            return 0
        removed = 0
        indexed: set[Path] = set()
        for index in self.folder.glob(f"{_SNAPSHOT}*.slices"):
            data = index.with_suffix(".data")
            ids = _read_index(index).keys()
            if any(i in keep or i in self._open for i in ids):
                indexed.add(data)
                continue
            index.unlink(missing_ok=True)
            removed += 1
            if self._slices is not None:
                for output_id in ids:
                    self._slices.pop(output_id, None)
        for path in self.folder.iterdir():
            stem = path.name.split(".", 1)[0]
            unnamed_snapshot = stem.startswith(_SNAPSHOT) and path.suffix == ".data"
            if (unnamed_snapshot and path not in indexed) or (
                _ID.fullmatch(stem) and stem not in keep and stem not in self._open
            ):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def flush(self) -> None:
        """Hand every open stream's buffered text to the OS."""
        for stream in self._open.values():
            stream.flush()

    def sync(self) -> None:
        """fsync every open stream."""
        for stream in self._open.values():
            stream.sync()

    def close(self) -> None:
        """Close every open stream; their files stay."""
        for stream in list(self._open.values()):
            self.release(stream)

    def _path(self, output_id: str, suffix: str) -> Path:
        return self.folder / f"{output_id}.{suffix}"

    def _known_slices(self) -> dict[str, _Sliced]:
        if self._slices is None:
            self._slices = {}
            for index in self.folder.glob(f"{_SNAPSHOT}*.slices"):
                data = index.with_suffix(".data")
                for output_id, found in _read_index(index).items():
                    self._slices[output_id] = _Sliced(data, found)
        return self._slices

    def _load_slice(self, sliced: _Sliced) -> dict[str, Any]:
        found = sliced.slice
        try:
            with sliced.data.open("rb") as f:
                raw = os.pread(f.fileno(), found.length, found.offset)
        except FileNotFoundError as exc:
            raise NotFound(f"the snapshot {sliced.data.name} is gone") from exc
        if len(raw) != found.length:
            raise NotFound(f"the snapshot {sliced.data.name} is truncated")
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise InvalidNotebook(f"an output in the file is not valid JSON: {exc}") from exc
        return check_output({**found.fields, found.key: value})

    def _materialize(self, output_id: str) -> None:
        # Pages are byte ranges of a file: give a slice one before the first page.
        if self._path(output_id, "txt").exists() or self._path(output_id, "json").exists():
            return
        found = self._known_slices()[output_id]
        output = self._load_slice(found)
        if found.slice.kind == "stream":
            self.write_text(OutputId(output_id), _stream_text(output))
        else:
            self.write_output(OutputId(output_id), output)

    @staticmethod
    def _check(output_id: str) -> None:
        if not isinstance(output_id, str) or not _ID.fullmatch(output_id):
            raise NotFound(f"no spilled output {output_id!r}")


def _read_index(index: Path) -> dict[str, Slice]:
    try:
        slices = json.loads(index.read_bytes())["slices"]
        return {k: Slice.from_json(v) for k, v in slices.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # unreadable: its outputs are reported missing, never guessed


def _stream_text(output: Mapping[str, Any]) -> str:
    text = output.get("text", "")
    return text if isinstance(text, str) else ""


def _cut(text: str, end: int | None) -> str:
    """``text`` up to UTF-8 byte ``end``."""
    if end is None or len(text) * 4 <= end:
        return text
    return text.encode()[:end].decode(errors="ignore")


def _complete_utf8(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that does not end inside a character."""
    end = len(data)
    for back in range(1, min(4, end) + 1):
        byte = data[end - back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: keep looking for the lead byte
        if byte < 0x80:
            return end
        need = 2 if byte >= 0xC0 else 1
        need = 3 if byte >= 0xE0 else need
        need = 4 if byte >= 0xF0 else need
        return end if back >= need else end - back
    return end
