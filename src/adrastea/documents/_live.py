"""The live notebook: one Y document per ``.ipynb``, journaled, autosaved, watched.

Life cycle::

    async with LiveNotebook.open(path, work_dir=wd, settings=s) as doc:
        doc.outputs.stream(cell_id, "stdout", "hi\\n")   # the execution engine
        YRoom(doc.ydoc, doc)                            # the y-websocket endpoint

or ``doc = await LiveNotebook.load(...)``, ``await tg.start(doc.run)``, and
``await doc.aclose()`` when done.

``work_dir`` belongs to this notebook alone (see :func:`document_dir`): it holds
the ``journal`` and the ``spill`` folder.

Rules:

- **Journal.**  Every Y update is appended to the journal as it happens; see
  ``_journal``.  On load, the journal is replayed instead of reading the file
  when the file's content is what the journal last saved (its sha-256 matches
  the journal's last save marker): the journal is then the newer truth,
  unsaved changes included, and the Y document is the very same as before
  (reconnecting browsers sync instead of duplicating).  If the file changed
  since, the file wins; a journal with unsaved changes is then set aside as
  ``journal.orphaned-<time>`` (never deleted; :func:`recover_journal` reads
  it) and :attr:`orphaned_journal` says so.  A server loads with
  ``defer_journal``: a document read from its file is served at once and
  :meth:`run` writes its first journal a moment later (see :meth:`load`).
- **Autosave.**  Once the document has unsaved changes it is saved
  ``autosave_delay`` seconds after the first of them (so a notebook that
  changes all the time is still saved every ``autosave_delay``), but never
  sooner than nine times the last save's duration after it (so saving a huge
  notebook takes at most about a tenth of the time).  Saves are atomic and
  write full outputs, merged back from the spill folder.
- **External changes.**  Before every save and every ``check_interval``
  seconds the file is compared with what was last read or written (size and
  mtime, then sha-256).  A changed file is loaded into the live document if
  it has no unsaved changes (:class:`Reloaded`); otherwise nothing is written,
  :class:`ConflictDetected` is reported, autosave pauses and explicit saves
  raise :class:`FileChangedOnDisk` until ``save(force=True)`` or ``reload()``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import anyio
from anyio.abc import TaskStatus
from jupyter_ydoc import YNotebook
from pycrdt import Doc, TransactionEvent

from adrastea.documents._capping import (
    cap_output,
    lazy_spilled,
    merge_output,
    merge_spilled,
    spilled_ids,
)
from adrastea.documents._clock import Clock, SystemClock
from adrastea.documents._events import (
    ConflictDetected,
    DocumentEvent,
    FileChangedOnDisk,
    Reloaded,
    Saved,
    SaveFailed,
)
from adrastea.documents._ipynb import validate_notebook
from adrastea.documents._journal import Journal, JournalState, replay
from adrastea.documents._merge import merge_notebook
from adrastea.documents._ondisk import NotebookFile
from adrastea.documents._outputs import OutputWriter
from adrastea.documents._skim import PendingRead, begin_read
from adrastea.documents._spill import SpillPage, SpillStore
from adrastea.documents._ynotebook import (
    build_notebook,
    dump_notebook,
    new_ynotebook,
    repair_ids,
)
from adrastea.documents.types import DocumentOptions, FileStamp
from adrastea.errors import AdrasteaError, FileNotFound, InvalidNotebook

__all__ = ["LiveNotebook", "document_dir"]

log = logging.getLogger(__name__)

JOURNAL_SYNC_INTERVAL = 1.0
_SAVE_DUTY = 9.0


@dataclass(frozen=True)
class _Defaults:
    autosave_delay: float = 1.0
    output_cap_bytes: int = 1_000_000
    output_budget_bytes: int = 4_000_000
    stream_coalesce_interval: float = 0.1


@dataclass(frozen=True)
class _Unsettled:
    """A document read from its file whose journal is still to be written."""

    read: PendingRead
    state: bytes  # the whole Y document as read: the journal's first record
    vector: bytes  # its state vector: what changed since goes after the save marker


def document_dir(state_dir: Path, path: Path) -> Path:
    """The work folder of the notebook at ``path``: stable, one per resolved path."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return state_dir / "documents" / key


class LiveNotebook:
    """The server's live copy of one notebook file.  Use :meth:`open` or :meth:`load`.

    All methods must be called from the event loop that loaded the document.
    """

    def __init__(
        self,
        *,
        notebook: YNotebook,
        journal: Journal,
        spill: SpillStore,
        file: NotebookFile,
        dirty: bool,
        settings: DocumentOptions,
        clock: Clock,
        on_event: Callable[[DocumentEvent], None] | None,
        check_interval: float,
        orphaned_journal: Path | None,
        unsettled: _Unsettled | None = None,
    ) -> None:
        self.notebook = notebook
        self.spill = spill
        self.orphaned_journal = orphaned_journal
        """Where an unusable journal was set aside at load (its changes were not applied)."""
        self.outputs = OutputWriter(
            notebook,
            spill,
            cap_bytes=settings.output_cap_bytes,
            interval=settings.stream_coalesce_interval,
            clock=clock,
        )
        self._journal = journal
        self._file = file
        self._settings = settings
        self._clock = clock
        self._on_event = on_event
        self._check_interval = check_interval
        self._change_seq = 1 if dirty else 0
        self._saved_seq = 0
        self._dirty_since: float | None = clock.now() if dirty else None
        self._quiet = False
        self._conflict: FileChangedOnDisk | None = None
        self._failed_seq: int | None = None
        self._last_save_end = float("-inf")
        self._last_save_duration = 0.0
        self._changed: anyio.Event | None = None
        self._save_lock = anyio.Lock()
        self._closed = False
        self._unsettled = unsettled
        self._settled = anyio.Event()
        self._settle_error: OSError | None = None
        self._full: tuple[bytes, bytes] | None = None
        if unsettled is None:
            self._settled.set()
        else:
            self._full = (unsettled.vector, unsettled.state)
        self._journal_failed = False
        self._listeners: list[Callable[[bytes], None]] = []
        self._subscription = notebook.ydoc.observe(self._on_update)

    # -- opening and closing ----------------------------------------------------------

    @classmethod
    async def load(
        cls,
        path: Path,
        *,
        work_dir: Path,
        settings: DocumentOptions | None = None,
        clock: Clock | None = None,
        on_event: Callable[[DocumentEvent], None] | None = None,
        check_interval: float = 2.0,
        defer_journal: bool = False,
    ) -> LiveNotebook:
        """Load ``path``, replaying its journal if that is newer (see the module doc).

        No background task runs until :meth:`run` is started.  With
        ``defer_journal``, a document read from the file is returned as soon as
        it is built, and :meth:`run` writes its journal and makes its spill
        snapshot durable (saves, spilled-output reads and ``to_nbformat`` wait
        for that): clients see it sooner, and a crash in that fraction of a
        second loses no more than the journal's fsync interval would.

        Raises:
            FileNotFound: ``path`` does not exist.
            InvalidNotebook: the file is not a valid notebook (and no journal applies).
        """
        settings = settings or _Defaults()
        spill = SpillStore(work_dir / "spill")
        journal_path = work_dir / "journal"
        notebook = new_ynotebook()
        state: JournalState | None = None
        orphaned: Path | None = None
        unsettled: _Unsettled | None = None
        if journal_path.exists():
            try:
                stamp = await anyio.to_thread.run_sync(FileStamp.of, path)
            except FileNotFoundError as exc:
                raise FileNotFound(f"no such notebook: {path}") from exc
            try:
                state = replay(journal_path, notebook.ydoc)
            except ValueError:
                state = None
            if state is None or state.saved is None or not state.saved.same_content(stamp):
                if state is not None and not state.dirty:
                    journal_path.unlink()  # it only knew an older version of the file
                else:
                    orphaned = journal_path.with_name(f"journal.orphaned-{time.time_ns()}")
                    journal_path.rename(orphaned)
                state = None
                notebook = new_ynotebook()
        if state is not None:
            journal = Journal.reopen(journal_path, state.valid_bytes)
            dirty = state.dirty
        else:
            pending = await anyio.to_thread.run_sync(
                functools.partial(
                    begin_read,
                    path,
                    spill,
                    cap_bytes=settings.output_cap_bytes,
                    budget_bytes=settings.output_budget_bytes,
                )
            )
            try:
                # Built while the spill snapshot is still being written.  A new session
                # id: clients holding an older Y document must reset, not merge.
                session = {"session_id": uuid.uuid4().hex}
                notebook, update = build_notebook(pending.nb, session)
                stamp = await anyio.to_thread.run_sync(pending.stamp)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(pending.abandon)
                raise
            # The journal's first record; also what the first client's sync sends.
            unsettled = _Unsettled(pending, update, notebook.ydoc.get_state())
            journal = Journal.unborn(journal_path)
            dirty = False
        doc = cls(
            notebook=notebook,
            journal=journal,
            spill=spill,
            file=NotebookFile(path, stamp),
            dirty=dirty,
            settings=settings,
            clock=clock or SystemClock(),
            on_event=on_event,
            check_interval=check_interval,
            orphaned_journal=orphaned,
            unsettled=unsettled,
        )
        if not defer_journal:
            try:
                await doc._settle()
            except BaseException:
                await doc.aclose(save=False)
                raise
        return doc

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: Path,
        *,
        work_dir: Path,
        settings: DocumentOptions | None = None,
        clock: Clock | None = None,
        on_event: Callable[[DocumentEvent], None] | None = None,
        check_interval: float = 2.0,
    ) -> AsyncIterator[LiveNotebook]:
        """Load the notebook, run its background tasks while the block runs, then close it.

        Raises what :meth:`load` raises.
        """
        doc = await cls.load(
            path,
            work_dir=work_dir,
            settings=settings,
            clock=clock,
            on_event=on_event,
            check_interval=check_interval,
        )
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(doc.run)
                try:
                    yield doc
                finally:
                    tg.cancel_scope.cancel()
        finally:
            await doc.aclose()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the background tasks (stream flushing, journal fsync, autosave, file
        watching) until cancelled."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.outputs.run)
            await tg.start(self._settle_in_background)
            await tg.start(self._journal.run, self._clock, JOURNAL_SYNC_INTERVAL)
            tg.start_soon(self._autosave_loop)
            tg.start_soon(self._watch_loop)
            task_status.started()

    async def aclose(self, *, save: bool = True) -> None:
        """Flush outputs, save if there are unsaved changes (unless in conflict), close files.

        With ``save=False`` nothing is written: unsaved changes stay in the
        journal and the next load replays them.  A failing final save loses
        nothing either, for the same reason.
        """
        if self._closed:
            return
        with anyio.CancelScope(shield=True):
            try:
                self.outputs.close()
                if save and self.dirty and self._conflict is None:
                    await self.save()
            except (AdrasteaError, OSError):
                pass
            finally:
                self._closed = True
                self.notebook.ydoc.unobserve(self._subscription)
                if self._unsettled is not None:  # closed before run() settled it
                    await anyio.to_thread.run_sync(self._unsettled.read.abandon)
                    self._unsettled = None
                self.spill.close()
                self._journal.close()

    # -- state ------------------------------------------------------------------------

    @property
    def ydoc(self) -> Doc[Any]:
        """The Y document, for a y-websocket room."""
        return self.notebook.ydoc

    @property
    def session_id(self) -> str:
        """Names this Y document's history; it changes only when the document is rebuilt
        from the file (not when the journal restores it after a restart).

        A y-websocket client whose local document has another session id must drop
        it and sync from scratch, or Yjs would merge two unrelated histories and
        duplicate every cell.
        """
        return str(self.notebook.ystate.get("session_id", ""))

    def follow_updates(self, listener: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``listener`` with every update of the document as it happens; returns
        the function that stops it.

        Cheaper than a second ``ydoc.observe``: pycrdt encodes each update once
        per observer, and this document already observes it for its journal.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def full_update(self) -> bytes:
        """The whole Y document as one update (what a client with nothing needs).

        Encoding a big document takes a while, so the result is kept until the
        document changes; a freshly loaded one has it already.
        """
        vector = self.ydoc.get_state()
        if self._full is None or self._full[0] != vector:
            self._full = (vector, self.ydoc.get_update())
        return self._full[1]

    @property
    def dirty(self) -> bool:
        """True if the document has changes the file does not have."""
        return self._change_seq != self._saved_seq

    @property
    def path(self) -> Path:
        """The notebook file."""
        return self._file.path

    @property
    def stamp(self) -> FileStamp:
        """The file as last read or written by this document."""
        return self._file.stamp

    @property
    def conflict(self) -> FileChangedOnDisk | None:
        """The unresolved external change, if any."""
        return self._conflict

    async def to_nbformat(self) -> dict[str, Any]:
        """The live notebook as a complete, valid nbformat dict (full outputs merged back)."""
        await self._settled.wait()
        self.outputs.flush()
        nb = dump_notebook(self.notebook)
        return await anyio.to_thread.run_sync(merge_spilled, nb, self.spill)

    async def read_output(self, output_id: str, offset: int = 0, limit: int = 1 << 20) -> SpillPage:
        """A page of a spilled output (see ``SpillStore.read``).

        Raises:
            NotFound: no such spilled output.
        """
        await self._settled.wait()
        self.spill.flush()
        return await anyio.to_thread.run_sync(self.spill.read, output_id, offset, limit)

    # -- changing ---------------------------------------------------------------------

    async def apply_nbformat(self, nb: dict[str, Any]) -> None:
        """Make the live document hold ``nb`` (a PUT from a client without Y).

        Cells are matched by id and unchanged ones keep their Y structures; see
        ``_merge``.  ``nb`` is validated first (its v4.5 cell ids may be repaired
        in place).

        Raises:
            InvalidNotebook: ``nb`` does not validate; the document is unchanged.
        """
        validate_notebook(nb)
        self.outputs.flush()
        await anyio.lowlevel.checkpoint()
        self._merge(nb)

    async def save(self, *, force: bool = False) -> FileStamp:
        """Write the live document (full outputs) to the file now; returns the new stamp.

        Without ``force``, a file changed on disk is first followed (reloaded)
        if the document is clean, and nothing is written; if the document has
        unsaved changes, nothing is written and :class:`FileChangedOnDisk` is
        raised.  ``force`` overwrites the file and resolves a conflict.

        Raises:
            FileChangedOnDisk: see above.
            InvalidNotebook: the live document does not validate (nothing written).
            OSError: the file could not be written (the old file is intact).
        """
        async with self._save_lock:
            if not force and await self._follow_disk():
                return self._file.stamp
            return await self._save(autosave=False)

    async def reload(self) -> None:
        """Replace the live document by the file, discarding unsaved changes.

        Raises:
            FileNotFound: the file is gone.
            InvalidNotebook: the file does not validate (the document is unchanged).
        """
        async with self._save_lock:
            await self._reload(discard=True)

    async def check_file(self) -> None:
        """Compare the file with what was last read or written, and follow or report a change.

        Raises:
            FileChangedOnDisk: the file changed and the document has unsaved changes.
        """
        async with self._save_lock:
            await self._follow_disk()

    # -- internals --------------------------------------------------------------------

    def _on_update(self, event: TransactionEvent) -> None:
        # Called by pycrdt inside whoever changed the document (a client's update,
        # the output writer): never raise into them.
        self._full = None
        update = event.update
        try:
            self._journal.append(update)  # first: what clients see is in the journal
        except OSError as exc:
            if not self._journal_failed:
                self._journal_failed = True
                log.error("journal %s cannot be written: %s", self._journal.path, exc)
                self._emit(SaveFailed(exc))
        else:
            self._journal_failed = False
        for listener in list(self._listeners):
            try:
                listener(update)
            except Exception:
                log.exception("update listener %r failed", listener)
        if self._quiet:
            return
        self._change_seq += 1
        if self._dirty_since is None:
            self._dirty_since = self._clock.now()
        if self._changed is not None:
            self._changed.set()

    def _emit(self, event: DocumentEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("on_event callback failed for %r", event)

    def _merge(self, nb: dict[str, Any]) -> None:
        cap = self._settings.output_cap_bytes
        merge_notebook(
            self.notebook,
            nb,
            full_outputs=lambda outputs: [merge_output(o, self.spill) for o in outputs],
            prepare_outputs=lambda outputs: [cap_output(o, self.spill, cap) for o in outputs],
        )

    async def _save(self, *, autosave: bool) -> FileStamp:
        if self._settle_error is not None:
            # Its spilled outputs may be gone: writing would lose them.
            raise OSError(f"not saved: the document's work folder failed ({self._settle_error})")
        started = self._clock.now()
        self.outputs.flush()
        self.spill.flush()
        repair_ids(self.notebook)  # else every save would invent new ids for duplicates
        ydoc = self.notebook.ydoc
        seq = self._change_seq
        nb = dump_notebook(self.notebook)
        state, vector = ydoc.get_update(), ydoc.get_state()
        disk_nb, lazy = lazy_spilled(nb, self.spill)
        validate_notebook(disk_nb)
        stamp = await self._file.write(disk_nb, lazy)
        await self._rebase_journal(state, vector, stamp)
        self._saved_seq = seq
        if not self.dirty:
            self._dirty_since = None
        self._conflict = None
        self._failed_seq = None
        self._set_state_dirty()
        # On the loop, not in a thread: outputs spilled meanwhile must be seen as kept.
        self.spill.collect(spilled_ids(dump_notebook(self.notebook)))
        self._last_save_end = self._clock.now()
        self._last_save_duration = self._last_save_end - started
        self._emit(Saved(stamp, autosave))
        return stamp

    async def _rebase_journal(self, state: bytes, vector: bytes, stamp: FileStamp) -> None:
        # The new journal: the state that was saved, the save marker, then what
        # changed since (written off the loop; changes made meanwhile are appended
        # after the swap, so none is lost).
        ydoc = self.notebook.ydoc
        now_vector = ydoc.get_state()
        changes = ydoc.get_update(vector) if now_vector != vector else None
        fresh = await anyio.to_thread.run_sync(
            Journal.create, self._journal.path, state, stamp, changes
        )
        self._journal.adopt(fresh)
        if ydoc.get_state() != now_vector:
            self._journal.append(ydoc.get_update(now_vector))

    async def _settle(self) -> None:
        """Make the spill snapshot durable and write the journal that ``load`` deferred.

        Raises:
            OSError: either could not be written (the document then refuses to save).
        """
        unsettled, self._unsettled = self._unsettled, None
        if unsettled is None:
            return
        try:
            stamp = await anyio.to_thread.run_sync(unsettled.read.finish)
            await self._rebase_journal(unsettled.state, unsettled.vector, stamp)
        except OSError as exc:
            self._settle_error = exc
            raise
        finally:
            self._settled.set()

    async def _settle_in_background(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        # Holds the save lock from before run() reports started: no save, reload or
        # file check can run on an unsettled document.
        async with self._save_lock:
            task_status.started()
            try:
                await self._settle()
            except OSError as exc:
                log.error("document %s: work folder cannot be written: %s", self.path, exc)
                self._emit(SaveFailed(exc))

    async def _reload(self, *, discard: bool) -> None:
        nb, stamp = await self._file.read()
        self.outputs.flush()
        if self.dirty and not discard:
            # Someone edited while the file was being read: their change wins the race.
            self._report(FileChangedOnDisk(self.path, stamp, "modified"))
        self._quiet = True
        try:
            self._merge(nb)
        finally:
            self._quiet = False
        ydoc = self.notebook.ydoc
        await self._rebase_journal(ydoc.get_update(), ydoc.get_state(), stamp)
        self._file.stamp = stamp
        self._saved_seq = self._change_seq
        self._dirty_since = None
        self._conflict = None
        self._failed_seq = None
        self._set_state_dirty()
        self._emit(Reloaded(stamp))

    async def _follow_disk(self) -> bool:
        """Check the file; True if it changed and the document now follows it.  Lock held.

        Raises:
            FileChangedOnDisk: it changed and cannot be followed (reported once).
        """
        change = await self._file.change()
        if change is None:
            if self._conflict is not None and self._conflict.disk is not None:
                self._conflict = None  # the file went back to what we know
            return False
        disk = change.stamp
        if disk is None:
            self._report(FileChangedOnDisk(self.path, None, "deleted"))
        if self.dirty:
            self._report(FileChangedOnDisk(self.path, disk, "modified"))
        try:
            await self._reload(discard=False)
        except InvalidNotebook as exc:
            self._report(FileChangedOnDisk(self.path, disk, f"now invalid: {exc.detail}"))
        except FileNotFound:
            self._report(FileChangedOnDisk(self.path, None, "deleted"))
        return True

    def _report(self, error: FileChangedOnDisk) -> NoReturn:
        if self._conflict is None or self._conflict.disk != error.disk:
            self._conflict = error
            self._emit(ConflictDetected(error))
        raise self._conflict

    def _set_state_dirty(self) -> None:
        # JupyterLab shows the unsaved-changes dot from the ``state`` map.
        if self.notebook.dirty != self.dirty:
            self._quiet = True
            try:
                self.notebook.dirty = self.dirty
            finally:
                self._quiet = False

    async def _wait_for_change(self) -> None:
        self._changed = anyio.Event()
        await self._changed.wait()

    async def _autosave_loop(self) -> None:
        while True:
            while (
                not self.dirty or self._conflict is not None or self._failed_seq == self._change_seq
            ):
                await self._wait_for_change()
            self._set_state_dirty()
            assert self._dirty_since is not None
            deadline = max(
                self._dirty_since + self._settings.autosave_delay,
                self._last_save_end + _SAVE_DUTY * self._last_save_duration,
            )
            await self._clock.sleep_until(deadline)
            async with self._save_lock:
                if not self.dirty or self._conflict is not None:
                    continue
                try:
                    if not await self._follow_disk():
                        await self._save(autosave=True)
                except FileChangedOnDisk:
                    pass  # reported; autosave waits for the owner
                except (AdrasteaError, OSError) as exc:
                    self._failed_seq = self._change_seq
                    self._emit(SaveFailed(exc))

    async def _watch_loop(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self._check_interval)
            async with self._save_lock:
                try:
                    await self._follow_disk()
                except FileChangedOnDisk:
                    pass  # reported
                except (AdrasteaError, OSError) as exc:
                    self._emit(SaveFailed(exc))
