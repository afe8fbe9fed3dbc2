"""The journal of Y updates: framing, replay, torn tails, save markers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pycrdt import Doc, Text

from adrastea.documents import FileStamp, Journal, JournalState, replay

STAMP = FileStamp(mtime_ns=1, size=2, sha256="ab" * 32)
LATER = FileStamp(mtime_ns=3, size=4, sha256="cd" * 32)


def journaled_doc(path: Path) -> tuple[Doc, Text, Journal]:
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    text += "base"
    journal = Journal.create(path, doc.get_update(), STAMP)
    doc.observe(lambda event: journal.append(event.update))
    return doc, text, journal


def replayed(path: Path) -> tuple[str, JournalState]:
    doc: Doc = Doc()
    state = replay(path, doc)
    return str(doc.get("t", type=Text)), state


def test_replay_restores_unsaved_updates_without_a_close(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _, text, _journal = journaled_doc(path)
    for word in [" one", " two", " three"]:
        text += word
    # No sync, no close: what a kill -9 leaves behind.

    content, state = replayed(path)

    assert content == "base one two three"
    assert state.saved == STAMP
    assert state.dirty


def test_a_save_marker_makes_it_clean(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _, text, journal = journaled_doc(path)
    text += " saved"
    journal.mark_saved(LATER)

    content, state = replayed(path)

    assert content == "base saved"
    assert state.saved == LATER
    assert not state.dirty
    journal.close()


def test_torn_tail_is_ignored_and_cut_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _, text, journal = journaled_doc(path)
    text += " kept"
    journal.close()
    intact = path.stat().st_size
    with path.open("ab") as f:
        f.write(b"\x00\x00\x01\x00garbage")  # a record cut short by a crash

    _, state = replayed(path)
    assert state.torn
    assert state.valid_bytes == intact

    reopened = Journal.reopen(path, state.valid_bytes)
    doc: Doc = Doc()
    replay(path, doc)
    doc.observe(lambda event: reopened.append(event.update))
    again = doc.get("t", type=Text)
    again += " more"
    reopened.close()

    content, state = replayed(path)
    assert content == "base kept more"
    assert not state.torn


def test_corrupt_record_stops_replay_there(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _, text, journal = journaled_doc(path)
    text += " good"
    journal.close()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last record's payload
    path.write_bytes(bytes(data))

    content, state = replayed(path)

    assert content == "base"
    assert state.torn


def test_adopt_continues_in_a_fresh_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    doc, text, journal = journaled_doc(path)
    text += " edited"

    fresh = Journal.create(path, doc.get_update(), LATER)
    journal.adopt(fresh)
    text += " after"
    journal.close()

    content, state = replayed(path)
    assert content == "base edited after"
    assert state.saved == LATER
    assert state.dirty


def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    path.write_bytes(b"hello")

    with pytest.raises(ValueError, match="not a journal"):
        replay(path, Doc())
