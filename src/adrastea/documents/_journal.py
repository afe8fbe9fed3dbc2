"""The journal: every Y update of a live document, on disk within about a second.

File layout: the magic line ``ADRASTEA-JOURNAL 1\\n``, then records framed as
``length (u32 BE) | crc32 (u32 BE) | kind (1 byte) | payload``; the CRC covers
kind and payload.  Kinds:

- ``U`` — a Y update (v1 encoding), applied in order;
- ``S`` — a save marker: JSON of the :class:`FileStamp` of the ``.ipynb`` that
  holds the document state as of this point.

A journal always starts with the full state (an ``U`` record) and a marker, so
it is self-contained: replaying it into an empty ``Doc`` rebuilds the very same
Y document (same item ids, so browsers that reconnect after a server restart
sync with it instead of duplicating content).  Records after the last marker
are the changes not yet saved.

Durability: each record is handed to the OS as it is appended, so a killed
server loses nothing; :meth:`Journal.run` fsyncs at most every ``interval``
seconds, so a machine crash loses at most about that much.  A torn last record
(a crash mid-write) is detected by its length or CRC and ignored; opening the
journal again cuts it off.

After each save the owner replaces the journal (atomically) by the saved
full state, a marker for the saved file, and whatever changed while saving, so
it stays about the size of the document.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import anyio
from anyio.abc import TaskStatus
from pycrdt import Doc

from adrastea.documents._clock import Clock, SystemClock
from adrastea.documents._ipynb import atomic_write
from adrastea.documents._ynotebook import dump_notebook, new_ynotebook
from adrastea.documents.types import FileStamp

__all__ = ["Journal", "JournalState", "recover_journal", "replay"]

MAGIC = b"ADRASTEA-JOURNAL 1\n"
_HEADER = struct.Struct(">IIc")
_UPDATE = b"U"
_SAVED = b"S"
_MAX_RECORD = 1 << 31


@dataclass(frozen=True)
class JournalState:
    """What replaying a journal found.

    ``saved`` is the stamp of the file the journal last matched (None if the
    journal has no marker); ``dirty`` is True if updates follow that marker;
    ``valid_bytes`` is where the intact records end (a torn tail starts there).
    """

    saved: FileStamp | None
    dirty: bool
    records: int
    valid_bytes: int
    torn: bool


def replay(journal_path: Path, ydoc: Doc[Any]) -> JournalState:
    """Apply every intact update of the journal at ``journal_path`` to ``ydoc``.

    Replay stops at the first torn or corrupt record; everything before it is
    applied.  Call it on an empty ``Doc``.

    Raises:
        FileNotFoundError: there is no journal.
        ValueError: the file is not a journal (bad magic line).
    """
    saved: FileStamp | None = None
    dirty = False
    records = 0
    with journal_path.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"not a journal: {journal_path}")
        valid = len(MAGIC)
        torn = False
        for kind, payload, end in _records(f):
            if kind is None:
                torn = True
                break
            if kind == _UPDATE:
                try:
                    ydoc.apply_update(payload)
                except ValueError:
                    torn = True
                    break
                dirty = True
            elif kind == _SAVED:
                saved = FileStamp.from_json(json.loads(payload))
                dirty = False
            records += 1
            valid = end
    return JournalState(saved=saved, dirty=dirty, records=records, valid_bytes=valid, torn=torn)


def recover_journal(journal_path: Path) -> dict[str, Any]:
    """The notebook a journal (for example an orphaned one) holds, outputs as capped there.

    Raises:
        FileNotFoundError: no such journal.
        ValueError: not a journal.
    """
    notebook = new_ynotebook()
    replay(journal_path, notebook.ydoc)
    return dump_notebook(notebook)


def _records(f: BinaryIO) -> Iterator[tuple[bytes | None, bytes, int]]:
    position = f.tell()
    while True:
        header = f.read(_HEADER.size)
        if not header:
            return
        if len(header) < _HEADER.size:
            yield None, b"", position
            return
        length, crc, kind = _HEADER.unpack(header)
        payload = f.read(length)
        if len(payload) < length or zlib.crc32(kind + payload) != crc:
            yield None, b"", position
            return
        position += _HEADER.size + length
        yield kind, payload, position


def _frame(kind: bytes, payload: bytes) -> bytes:
    if len(payload) >= _MAX_RECORD:
        raise ValueError("journal record too large")
    return _HEADER.pack(len(payload), zlib.crc32(kind + payload), kind) + payload


class Journal:
    """An open journal, appended to as the document changes.  One writer per file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._unborn = False
        self._unsynced = False
        self._wake: anyio.Event | None = None

    @classmethod
    def unborn(cls, path: Path) -> Journal:
        """A journal whose file is still to be written: it drops what is appended until
        :meth:`adopt` gives it a created one.  Its owner must put everything it dropped
        into that file (``LiveNotebook`` writes the state vector's difference)."""
        journal = cls(path, -1)
        journal._unborn = True
        return journal

    @classmethod
    def create(
        cls, path: Path, state: bytes, saved: FileStamp, changes: bytes | None = None
    ) -> Journal:
        """Write a fresh journal atomically: full ``state``, a marker for ``saved``, then
        ``changes`` (updates made after that save, if any)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = MAGIC + _frame(_UPDATE, state) + _frame(_SAVED, _stamp_json(saved))
        if changes:
            data += _frame(_UPDATE, changes)
        atomic_write(path, data)
        return cls(path, os.open(path, os.O_WRONLY | os.O_APPEND))

    @classmethod
    def reopen(cls, path: Path, valid_bytes: int) -> Journal:
        """Open an existing journal for appending, cutting a torn tail at ``valid_bytes``."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        if os.fstat(fd).st_size > valid_bytes:
            os.ftruncate(fd, valid_bytes)
            os.fsync(fd)
        return cls(path, fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def append(self, update: bytes) -> None:
        """Record a Y update (in the OS's hands when this returns)."""
        self._record(_UPDATE, update)

    def mark_saved(self, stamp: FileStamp) -> None:
        """Record that the file with ``stamp`` now holds the document as of here."""
        self._record(_SAVED, _stamp_json(stamp))

    def adopt(self, fresh: Journal) -> None:
        """Continue in ``fresh`` (a journal just created for the same path), closing this file.

        Used after a save: :meth:`create` (off the event loop) writes the new
        journal, then the owner switches to it here.
        """
        self.close()
        self._fd, fresh._fd = fresh._fd, -1
        self._unsynced = False
        self._unborn = False

    def sync(self) -> None:
        """fsync now if anything was appended since the last sync."""
        if self._unsynced and self._fd >= 0:
            self._unsynced = False
            os.fsync(self._fd)

    async def run(
        self,
        clock: Clock | None = None,
        interval: float = 1.0,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """fsync appended records at most every ``interval`` seconds, until cancelled.

        The fsync runs in a worker thread on a duplicate descriptor, so a slow
        file system does not stall the event loop and :meth:`rebase` may swap
        the file meanwhile.
        """
        clock = clock or SystemClock()
        self._wake = anyio.Event()
        task_status.started()
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                started = clock.now()
                if self._unsynced and self._fd >= 0:
                    self._unsynced = False
                    dup = os.dup(self._fd)
                    try:
                        await anyio.to_thread.run_sync(os.fsync, dup)
                    finally:
                        os.close(dup)
                await clock.sleep_until(started + interval)
        finally:
            self._wake = None

    def close(self) -> None:
        """fsync and close (idempotent)."""
        self._unborn = False
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                if self._unsynced:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._unsynced = False

    def _record(self, kind: bytes, payload: bytes) -> None:
        if self._unborn:
            return
        if self._fd < 0:
            raise ValueError("journal is closed")
        view = memoryview(_frame(kind, payload))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._unsynced = True
        if self._wake is not None:
            self._wake.set()


def _stamp_json(stamp: FileStamp) -> bytes:
    return json.dumps(stamp.to_json(), sort_keys=True).encode()
