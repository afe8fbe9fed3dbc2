"""One stream output being written into the live document.

A :class:`LiveStream` takes raw stream text, applies terminal semantics
(``_terminal``), and keeps the document's copy of the output up to date with
few, small Y operations:

- while the text fits in ``cap_bytes``, the document holds all of it
  (committed text, then the current line); an update replaces the old line
  with the new committed text and line (inserting only the extension when the
  old line merely grew or ended);
- past the cap, the stream is *spilled*: everything committed goes to an
  append-only spill file as it arrives, and the document holds
  ``head + note + tail + line``.  The head is fixed, the tail is a sliding
  window of the last lines, so an update deletes what slid out of the window
  and appends what came in; memory stays bounded by the cap however long the
  stream runs.

While a spilled stream keeps growing, what it sends is bounded by a token
bucket per output (``refresh_rate`` bytes a second, a burst of one tail): an
update refreshes the tail only when the bucket covers the text the document
lacks, else it leaves the document's tail as it is (a true tail of an earlier
moment) and only updates the note (the bytes and lines not shown) and the
current line.  A slow logger past the cap thus sees each line at once, while a
flood refreshes its tail every ``tail / refresh_rate`` seconds or so, and the
text that slid through the window meanwhile is never sent.  The final update
(``apply(final=True)``) ignores the budget, so a finished stream's document
holds exactly :meth:`LiveStream.render`'s text, as does every refresh.  The
spill file and the marker (which ``merge_spilled`` reads with the current line)
are always up to date, so a save is exact whatever the document shows.

The update that first shows a stream spilled is a minimal edit of the plain
text the document already holds (a prefix of the stream): it deletes the
middle between head and tail, inserts the note, and appends only the part of
the tail (and line) the document lacks, so crossing the cap costs a
connected client the note and the new text, not the cap's worth of text
again.  The document's text is then exactly what :meth:`LiveStream.render`
would produce.

Byte offsets: pycrdt ``Text`` indexes by UTF-8 bytes, so all bookkeeping here
is in bytes.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from pycrdt import Map, Text

from adrastea.documents._budget import ByteBudget
from adrastea.documents._capping import (
    MARKER_KEY,
    SpillMarker,
    head_text,
    stream_budgets,
    stream_note,
    tail_text,
)
from adrastea.documents._clock import Clock, SystemClock
from adrastea.documents._spill import SpillStore, SpillStream
from adrastea.documents._terminal import TerminalText

__all__ = ["DEFAULT_REFRESH_RATE", "LiveStream"]

DEFAULT_REFRESH_RATE = 64_000.0
"""Bytes a second a spilled stream that keeps growing sends in the long run (tail, line, note)."""


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _segments(text: str) -> list[str]:
    parts = text.split("\n")
    segments = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        segments.append(parts[-1])
    return segments


def _after(text: str, nbytes: int) -> str:
    """``text`` without its first ``nbytes`` UTF-8 bytes (which end on a character boundary)."""
    if not nbytes:
        return text
    if text.isascii():
        return text[nbytes:]
    return text.encode()[nbytes:].decode()


def _replace(text: Text, start: int, old: str, old_bytes: int, new: str) -> int:
    """Make ``text[start : start + old_bytes]``, which holds ``old``, hold ``new`` instead.

    When ``new`` merely extends ``old`` (a line that grew or ended), only the extension is
    inserted, so a client is not sent ``old`` again.  Returns the bytes inserted.
    """
    if new.startswith(old):
        start += old_bytes
        new = new[len(old) :]
    elif old_bytes:
        del text[start : start + old_bytes]
    if not new:
        return 0
    text.insert(start, new)
    return _nbytes(new)


class LiveStream:
    """The state of one stream output (``stdout`` or ``stderr``) of one cell.

    Call :meth:`feed` as text arrives (cheap, no document access), then
    :meth:`render` once to create the output in the document or :meth:`apply`
    to bring an existing one up to date.  :meth:`matches` tells whether the
    document still holds the output as this object last left it (a client may
    have cleared it meanwhile).

    Once spilled, :meth:`apply` may leave the tail stale to stay within
    ``refresh_rate`` bytes a second (see the module docstring); :attr:`changed`
    then stays true and :meth:`ready_at` says when another :meth:`apply` would
    refresh it.  ``refresh_rate`` may be ``math.inf`` (no budget); ``clock``
    (default: the system's) times the budget.
    """

    def __init__(
        self,
        name: str,
        spill: SpillStore,
        cap_bytes: int,
        *,
        refresh_rate: float = DEFAULT_REFRESH_RATE,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.index: int | None = None  # position in the cell's outputs once in the document
        self._spill = spill
        self._cap = cap_bytes
        # A quarter of the cap for the current line (4 bytes a character at most), the
        # rest for head, note and tail: the document's copy never exceeds the cap.
        line_budget = max(64, cap_bytes // 4)
        self._head_budget, self._tail_budget = stream_budgets(cap_bytes - line_budget)
        self._term = TerminalText(max_line=line_budget // 4)
        self._changed = False
        self._fed = False  # text came since the last render or apply
        # Not spilled: all committed text; _pending is the part not yet in the document.
        self._committed: list[str] = []
        self._committed_bytes = 0
        self._pending: list[str] = []
        # Spilled.
        self._file: SpillStream | None = None
        self._total_bytes = 0
        self._total_lines = 0
        self._head = ""
        self._head_bytes = 0
        self._head_lines = 0
        self._doc_tail: deque[tuple[str, int]] = deque()
        self._doc_tail_bytes = 0
        self._new_tail: deque[tuple[str, int]] = deque()
        self._new_tail_bytes = 0
        self._tail_lines = 0
        self._trim = 0  # bytes to delete at the start of the document's tail
        self._relayout = False
        # The document's tail is _trim + _doc_tail_bytes bytes holding _shown_lines lines:
        # the true tail when last refreshed, kept until the budget allows another refresh.
        self._shown_lines = 0
        self._stale = False  # the document's tail lags behind _doc_tail + _new_tail
        # The byte budget for updates of the spilled document; it is filled when the
        # stream spills, so a slow logger's lines go out at once.
        self._budget = ByteBudget(refresh_rate, self._tail_budget, clock or SystemClock())
        # What the document holds.
        self._doc_note = ""
        self._doc_note_bytes = 0
        self._doc_committed_bytes = 0
        self._doc_line = ""
        self._doc_line_bytes = 0
        self._doc_marker: dict[str, Any] | None = None

    @property
    def spilled(self) -> bool:
        return self._file is not None

    @property
    def changed(self) -> bool:
        """True if the document lags behind what was fed (a stale tail included)."""
        return self._changed

    def ready_at(self) -> float:
        """The clock time from which :meth:`apply` would change the document.

        ``-inf`` if text was fed since the last update (or the output is not in the
        document yet), the time the budget covers the stale tail's refresh if that is all
        that lags, ``inf`` if the document is up to date.
        """
        if self._fed or self.index is None:
            return -math.inf
        if not self._stale:
            return math.inf
        return self._budget.ready_at(self._new_tail_bytes)

    def adopt(self, index: int, text: str) -> None:
        """Continue an existing (not spilled) stream output at ``index`` holding ``text``."""
        cut = text.rfind("\n") + 1
        committed, line = text[:cut], text[cut:]
        self._committed = [committed] if committed else []
        self._committed_bytes = self._doc_committed_bytes = _nbytes(committed)
        self._term.start_with(line)
        self._doc_line, self._doc_line_bytes = line, _nbytes(line)
        self.index = index

    def feed(self, text: str) -> None:
        """Take more raw stream text."""
        committed = self._term.feed(text)
        if committed:
            self._commit(committed)
        self._changed = self._fed = True
        if self._file is None:
            line = self._term.line
            if self._committed_bytes + 4 * len(line) > self._cap and (
                self._committed_bytes + _nbytes(line) > self._cap
            ):
                self._start_spilling()

    def matches(self, youtput: Any) -> bool:
        """True if ``youtput`` is this stream's output as last written."""
        if not isinstance(youtput, Map) or youtput.get("name") != self.name:
            return False
        text = youtput.get("text")
        return isinstance(text, Text) and len(text) == self._doc_bytes()

    def render(self, index: int) -> dict[str, Any]:
        """The whole output, to be inserted at ``index``; the document then holds it."""
        self.index = index
        self._changed = self._fed = False
        line = self._term.line
        self._doc_line, self._doc_line_bytes = line, _nbytes(line)
        if self._file is None:
            committed = "".join(self._committed)
            self._committed = [committed] if committed else []
            self._pending = []
            self._doc_committed_bytes = self._committed_bytes
            return {"output_type": "stream", "name": self.name, "text": committed + line}
        self._file.flush()  # the marker must not promise bytes the OS has not got
        self._relayout = False
        self._absorb_new_tail()
        self._trim = 0
        self._stale = False
        self._shown_lines = self._tail_lines
        self._doc_note = self._note(self._doc_tail_bytes, self._tail_lines)
        self._doc_note_bytes = _nbytes(self._doc_note)
        self._doc_marker = self._marker()
        tail = "".join(segment for segment, _ in self._doc_tail)
        return {
            "output_type": "stream",
            "name": self.name,
            "text": self._head + self._doc_note + tail + line,
            "metadata": {MARKER_KEY: self._doc_marker},
        }

    def apply(self, youtput: Map[Any], *, final: bool = False) -> None:
        """Bring ``youtput`` (for which :meth:`matches` holds) up to date, in place.

        A spilled stream's tail is refreshed only as its byte budget allows, unless
        ``final`` (no more text will come): the document then holds exactly what
        :meth:`render` would give.  The current line, the note and the marker are always
        brought up to date.
        """
        if not self._changed:
            return
        self._fed = False
        text: Text = youtput["text"]
        line = self._term.line
        if self._file is None:
            new = "".join(self._pending) + line
            _replace(text, self._doc_committed_bytes, self._doc_line, self._doc_line_bytes, new)
            self._doc_committed_bytes = self._committed_bytes
            self._pending = []
        else:
            self._file.flush()  # the marker must not promise bytes the OS has not got
            if self._relayout:
                self._budget.spend(self._apply_spilling(text, line))
            else:
                self._apply_spilled(text, line, final)
            marker = self._marker(line)
            if marker != self._doc_marker:
                youtput["metadata"] = {MARKER_KEY: marker}
                self._doc_marker = marker
        self._changed = self._stale
        self._doc_line, self._doc_line_bytes = line, _nbytes(line)

    def unapplied_text(self) -> str:
        """Text fed but not yet in the document, plus the current line (to start over)."""
        if self._file is None:
            return "".join(self._pending) + self._term.line
        return "".join(segment for segment, _ in self._new_tail) + self._term.line

    def close(self) -> None:
        """The stream is complete: release its spill file (the document keeps its marker)."""
        if self._file is not None:
            self._file.flush()
            self._spill.release(self._file)

    def _apply_spilled(self, text: Text, line: str, final: bool) -> None:
        # The document holds head + note + its tail (_trim + _doc_tail_bytes bytes) + line.
        # Refreshing the tail deletes the _trim bytes that slid out and appends _new_tail,
        # which _trim_tail keeps within one tail: what slid through unseen is never sent.
        refresh = final or self._budget.covers(self._new_tail_bytes)
        if refresh:
            note = self._note(self._doc_tail_bytes + self._new_tail_bytes, self._tail_lines)
        else:
            # The note counts what the document does not show, the text after its stale
            # tail included, so it is true at every update.
            note = self._note(self._trim + self._doc_tail_bytes, self._shown_lines)
        sent = 0
        if note != self._doc_note:
            del text[self._head_bytes : self._head_bytes + self._doc_note_bytes]
            text.insert(self._head_bytes, note)
            self._doc_note, self._doc_note_bytes = note, _nbytes(note)
            sent += self._doc_note_bytes
        tail_start = self._head_bytes + self._doc_note_bytes
        if refresh:
            if self._trim:
                del text[tail_start : tail_start + self._trim]
                self._trim = 0
            line_start = tail_start + self._doc_tail_bytes
            new_tail = "".join(segment for segment, _ in self._new_tail)
            self._absorb_new_tail()
            self._shown_lines = self._tail_lines
            self._stale = False
            new = new_tail + line
        else:
            # The line stays current even so: the marker (and a save) takes it from here.
            line_start = tail_start + self._trim + self._doc_tail_bytes
            self._stale = True
            new = line
        sent += _replace(text, line_start, self._doc_line, self._doc_line_bytes, new)
        self._budget.spend(sent)

    def _apply_spilling(self, text: Text, line: str) -> int:
        # The document still holds the plain text as last applied: the stream's first
        # _doc_committed_bytes bytes, then _doc_line.  It already has the head and maybe
        # the start of the tail, so only the middle goes, the note comes in, and what the
        # document lacks is added: a client is not sent the cap's worth of text again.
        # Returns the bytes inserted.
        assert self._file is not None
        self._relayout = False
        held = self._doc_committed_bytes
        head = self._head_bytes
        assert not self._doc_tail and not self._trim
        # Nothing is in the document's tail yet (_drop_tail emptied it, and _trim_tail
        # only trims the document's part): the whole tail is _new_tail, a suffix of the
        # committed stream starting at byte tail_start, and tail_start >= head.
        tail = "".join(segment for segment, _ in self._new_tail)
        tail_start = self._total_bytes - self._new_tail_bytes
        note = self._note(self._new_tail_bytes, self._tail_lines)
        note_bytes = _nbytes(note)
        if held > head:
            middle = min(held, tail_start) - head
            if middle:
                del text[head : head + middle]
            text.insert(head, note)
            shown = max(0, held - tail_start)  # bytes of the tail the document has
            start = head + note_bytes + shown
            new = _after(tail, shown) + line
        else:
            start = held
            new = _after(self._head, held) + note + tail + line
        sent = _replace(text, start, self._doc_line, self._doc_line_bytes, new)
        self._absorb_new_tail()
        self._trim = 0
        self._stale = False
        self._shown_lines = self._tail_lines
        self._doc_note, self._doc_note_bytes = note, note_bytes
        return sent + (note_bytes if held > head else 0)

    # -- committing -------------------------------------------------------------------

    def _commit(self, text: str) -> None:
        size = _nbytes(text)
        if self._file is None:
            self._committed.append(text)
            self._pending.append(text)
            self._committed_bytes += size
            return
        self._file.append(text)
        self._total_bytes += size
        self._total_lines += text.count("\n")
        if size >= self._tail_budget:
            # Everything now in the tail slides out at once.
            self._drop_tail()
            text = tail_text(text, self._tail_budget)
        for segment in _segments(text):
            nbytes = _nbytes(segment)
            self._new_tail.append((segment, nbytes))
            self._new_tail_bytes += nbytes
            self._tail_lines += segment.endswith("\n")
        self._trim_tail()

    def _start_spilling(self) -> None:
        committed = "".join(self._committed)
        self._committed, self._pending = [], []
        output_id = self._spill.new_id()
        self._file = self._spill.open_stream(output_id)
        self._file.append(committed)
        self._file.flush()
        self._total_bytes = self._committed_bytes
        self._total_lines = committed.count("\n")
        self._head = head_text(committed, self._head_budget)
        self._head_bytes = _nbytes(self._head)
        self._head_lines = self._head.count("\n")
        self._budget.fill()
        rest = committed[len(self._head) :]
        self._drop_tail()
        for segment in _segments(tail_text(rest, self._tail_budget)):
            nbytes = _nbytes(segment)
            self._new_tail.append((segment, nbytes))
            self._new_tail_bytes += nbytes
            self._tail_lines += segment.endswith("\n")
        self._relayout = True

    def _drop_tail(self) -> None:
        self._trim += self._doc_tail_bytes
        self._doc_tail.clear()
        self._doc_tail_bytes = 0
        self._new_tail.clear()
        self._new_tail_bytes = 0
        self._tail_lines = 0

    def _trim_tail(self) -> None:
        budget = self._tail_budget
        while self._doc_tail_bytes + self._new_tail_bytes > budget:
            excess = self._doc_tail_bytes + self._new_tail_bytes - budget
            side = self._doc_tail if self._doc_tail else self._new_tail
            segment, nbytes = side[0]
            if self._doc_tail_bytes + self._new_tail_bytes - nbytes >= budget // 2:
                side.popleft()
                cut = nbytes
                self._tail_lines -= segment.endswith("\n")
            else:
                # One huge line: keep its end rather than lose the whole tail.
                rest = segment.encode()[excess:].decode(errors="ignore")
                cut = nbytes - _nbytes(rest)
                side[0] = (rest, nbytes - cut)
            if side is self._doc_tail:
                self._doc_tail_bytes -= cut
                self._trim += cut
            else:
                self._new_tail_bytes -= cut

    def _absorb_new_tail(self) -> None:
        self._doc_tail.extend(self._new_tail)
        self._doc_tail_bytes += self._new_tail_bytes
        self._new_tail.clear()
        self._new_tail_bytes = 0

    # -- the document's view ----------------------------------------------------------

    def _doc_bytes(self) -> int:
        if self._file is None or self.index is None:
            return self._doc_committed_bytes + self._doc_line_bytes
        if self._relayout:
            # Spilled since the document last saw it, which still holds the plain text.
            return self._doc_committed_bytes + self._doc_line_bytes
        return (
            self._head_bytes
            + self._doc_note_bytes
            + self._trim
            + self._doc_tail_bytes
            + self._doc_line_bytes
        )

    def _note(self, shown_bytes: int, shown_lines: int) -> str:
        """The note for a document showing head and ``shown_bytes`` (``shown_lines``) of tail."""
        cut = self._total_bytes - self._head_bytes - shown_bytes
        lines = self._total_lines - self._head_lines - shown_lines
        assert self._file is not None
        return stream_note(cut, lines, self._file.output_id)

    def _marker(self, line: str | None = None) -> dict[str, Any]:
        assert self._file is not None
        line = self._term.line if line is None else line
        line_bytes = _nbytes(line)
        return SpillMarker(
            output_id=self._file.output_id,
            kind="stream",
            total_bytes=self._total_bytes + line_bytes,
            total_lines=self._total_lines,
            committed_bytes=self._total_bytes,
            line_bytes=line_bytes,
        ).to_json()
