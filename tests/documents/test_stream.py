"""One live stream output: what a client is sent when it crosses the display cap, and that the
incremental document edits agree with a from-scratch render."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from pycrdt import Doc, Map, Text

from adrastea.documents import (
    ManualClock,
    OutputWriter,
    SpillMarker,
    SpillStore,
    TerminalText,
    dump_notebook,
    merge_spilled,
)
from adrastea.documents._capping import stream_budgets
from adrastea.documents._stream import LiveStream

from .conftest import until
from .test_outputs import code_cell, display, make_notebook, outputs

CAP = 100_000
TAIL = stream_budgets(CAP - CAP // 4)[1]  # the tail a spilled stream of CAP shows


class Client:
    """A document holding one stream output, and a replica that gets only its Y updates."""

    def __init__(self) -> None:
        self.doc: Doc[Any] = Doc()
        self.replica: Doc[Any] = Doc()
        self.sent: list[int] = []
        self.doc.observe(self._on_update)
        self.root = self.doc.get("outputs", type=Map)

    def _on_update(self, event: Any) -> None:
        self.sent.append(len(event.update))
        self.replica.apply_update(event.update)

    def flush(self, live: LiveStream) -> str:
        """Render or apply ``live``; returns the document's text (checked against the replica)."""
        with self.doc.transaction():
            if "out" in self.root:
                assert live.matches(self.root["out"])
                live.apply(self.root["out"])
            else:
                rendered = live.render(0)
                rendered["text"] = Text(rendered["text"])
                if "metadata" in rendered:
                    rendered["metadata"] = Map(rendered["metadata"])
                self.root["out"] = Map(rendered)
        text = str(self.root["out"]["text"])
        replica = self.replica.get("outputs", type=Map)
        assert str(replica["out"]["text"]) == text
        return text

    def output(self) -> dict[str, Any]:
        result: dict[str, Any] = self.root["out"].to_py()
        return result


def rendered_twin(chunks: list[str], spill: SpillStore, live_id: str | None) -> str:
    """The text a fresh stream fed ``chunks`` renders, with its spill id swapped for ``live_id``."""
    twin = LiveStream("stdout", spill, CAP, refresh_rate=math.inf)
    for chunk in chunks:
        twin.feed(chunk)
    rendered = twin.render(0)
    twin.close()
    text: str = rendered["text"]
    marker = SpillMarker.of(rendered)
    if marker is not None and live_id is not None:
        text = text.replace(marker.output_id, live_id)
    return text


def test_crossing_the_cap_sends_only_the_new_text(tmp_path: Path) -> None:
    notebook = make_notebook(code_cell("a"))
    clock = ManualClock()
    writer = OutputWriter(notebook, SpillStore(tmp_path / "spill"), cap_bytes=CAP, clock=clock)
    updates: list[bytes] = []
    notebook.ydoc.observe(lambda event: updates.append(event.update))

    printed = 0
    spilled_at = None
    for block in range(40):
        chunk = "".join(f"{block:03d} {i:03d} ünïcødé ✓\n" for i in range(200))
        writer.stream("a", "stdout", chunk)
        printed += len(chunk.encode())
        clock.advance(0.1)  # 48 KB/s: within the refresh budget, every flush shows it all
        writer.flush()
        if spilled_at is None and SpillMarker.of(outputs(notebook)[0]) is not None:
            spilled_at = len(updates) - 1
    writer.close()

    assert spilled_at is not None and printed > 1.5 * CAP
    # Each flush sends its new text plus a little (Y framing, note, marker), the one that
    # crosses the cap included: it used to re-send head and tail, 3/4 of a cap.
    framing = 500
    assert max(len(update) for update in updates) < len(chunk.encode()) + framing
    # So the client gets the cap's worth before the spill and the new text after it.
    assert sum(len(update) for update in updates) < printed + framing * len(updates)
    shown = outputs(notebook)[0]["text"]
    assert len(shown.encode()) <= CAP


@pytest.mark.parametrize("before", [0, 2_000, 40_000, 70_000, 80_000, 95_000])
def test_the_applied_text_is_what_render_gives_across_the_spill(
    tmp_path: Path, before: int
) -> None:
    # ``before``: bytes the document holds when the stream spills, so the document has
    # none, part, all of the head, or the start of the tail already.
    spill = SpillStore(tmp_path / "spill")
    live = LiveStream("stdout", spill, CAP, refresh_rate=math.inf)  # every update refreshes
    client = Client()
    pieces = ["ä", "€", "😀", "x", "\n", "ünï 😀 ✓ code\n", "\r", "\b\b"]
    fed: list[str] = []
    held = 0
    i = 0
    while held < before:
        chunk = f"line {i} " + pieces[i % len(pieces)] * (i % 7) + "\n"
        live.feed(chunk)
        fed.append(chunk)
        held += len(chunk.encode())
        i += 1
    if fed:
        assert not live.spilled
        client.flush(live)
    flushes = 0
    j = 0
    while flushes < 12:
        chunk = pieces[j % len(pieces)] * (1 + j % 5) + f" {j} " + pieces[(j * 3) % len(pieces)]
        if j % 97 == 0:
            chunk += "\r" + "█" * (j % 40) + f" {j}%"  # a progress bar redrawing its line
        live.feed(chunk)
        fed.append(chunk)
        j += 1
        if live.spilled and j % 300 == 0:
            text = client.flush(live)
            flushes += 1
            marker = SpillMarker.of(client.output())
            assert marker is not None
            assert text == rendered_twin(fed, spill, marker.output_id)

    term = TerminalText(max_line=max(64, CAP // 4) // 4)
    expected = term.feed("".join(fed)) + term.line
    head, _, rest = text.partition("\n… ")
    assert expected.startswith(head)
    assert expected.endswith(rest.split(" …\n", 1)[1])
    assert live.render(0)["text"] == text
    live.close()


# -- the refresh budget of a spilled stream that keeps growing ------------------------------

RATE = 20_000.0  # bytes a second: a spilled stream's refresh budget in these tests
NOTE = re.compile(r"\n… ([\d,]+) bytes \(([\d,]+) lines\) not shown; full output: \S+ …\n")


def numbered(start: int, count: int) -> str:
    return "".join(f"line {i} ünï ✓\n" for i in range(start, start + count))


def flood_writer(tmp_path: Path) -> tuple[OutputWriter, ManualClock, list[bytes], SpillStore]:
    notebook = make_notebook(code_cell("a"))
    clock = ManualClock()
    spill = SpillStore(tmp_path / "spill")
    writer = OutputWriter(notebook, spill, cap_bytes=CAP, clock=clock, stream_refresh_rate=RATE)
    updates: list[bytes] = []
    notebook.ydoc.observe(lambda event: updates.append(event.update))
    return writer, clock, updates, spill


def shown(writer: OutputWriter) -> str:
    text: str = outputs(writer._notebook)[0]["text"]
    return text


def test_a_flood_sends_the_cap_then_at_most_its_rate(tmp_path: Path) -> None:
    writer, clock, updates, spill = flood_writer(tmp_path)
    fed: list[str] = []
    flushes, per_flush = 300, 800  # 30 s at 170 KB/s: 8 times the budget
    last_lines: set[str] = set()
    for block in range(flushes):
        chunk = numbered(block * per_flush, per_flush)
        writer.stream("a", "stdout", chunk)
        fed.append(chunk)
        clock.advance(0.1)
        writer.flush()
        tail_end = shown(writer).rsplit("\n", 2)[-2]
        last_lines.add(tail_end)
    flooded = sum(len(update) for update in updates)
    writer.finish("a")
    final = sum(len(update) for update in updates) - flooded

    printed = sum(len(chunk.encode()) for chunk in fed)
    assert printed > 50 * CAP
    framing = 300  # a flush's Y framing, note and marker
    duration = flushes * 0.1
    # The document got the cap's worth before the spill, then a burst of one tail and the
    # rate: not the 50 caps printed since.
    assert flooded < CAP + TAIL + RATE * duration + framing * flushes
    assert flooded < 10 * CAP
    # Its tail was refreshed along the way (about every TAIL / RATE seconds) ...
    assert len(last_lines) >= duration * RATE / TAIL - 1
    # ... and the last update shows the true tail: at most one tail more.
    assert final < TAIL + framing
    output = outputs(writer._notebook)[0]
    marker = SpillMarker.of(output)
    assert marker is not None
    assert output["text"] == rendered_twin(fed, spill, marker.output_id)
    assert output["text"].endswith(fed[-1])
    # Every byte is in the spill file.
    assert "".join(spill.iter_text(marker.output_id)) == "".join(fed)


def test_a_slow_logger_past_the_cap_shows_each_line_at_once(tmp_path: Path) -> None:
    writer, clock, _, _ = flood_writer(tmp_path)
    writer.stream("a", "stdout", numbered(0, 8_000))  # over the cap at once
    writer.flush()
    assert SpillMarker.of(outputs(writer._notebook)[0]) is not None
    for i in range(8_000, 8_300):  # a line every 0.1 s, far below the rate
        clock.advance(0.1)
        writer.stream("a", "stdout", numbered(i, 1))
        writer.flush()
        assert shown(writer).endswith(numbered(i - 2, 3))
        assert not writer.pending
    writer.close()


def test_a_stale_tail_keeps_a_true_note_and_an_exact_save(tmp_path: Path) -> None:
    writer, _, _, spill = flood_writer(tmp_path)
    fed = [numbered(0, 8_000)]
    writer.stream("a", "stdout", fed[0])
    writer.flush()
    for block in range(1, 20):  # no time passes: the tail goes stale at once
        fed.append(numbered(block * 1000, 1000) + f"partial {block}")
        writer.stream("a", "stdout", fed[-1])
        writer.flush()
    assert writer.pending

    text = shown(writer)
    assert text.endswith("\npartial 19")  # the current line is always current ...
    assert numbered(19_000 - 1, 1) not in text  # ... the tail is not
    note = NOTE.search(text)
    assert note is not None
    head, region = text[: note.start()], text[note.end() : -len("partial 19")]
    committed = "".join(fed)[: -len("partial 19")]
    # The note counts what the document does not show, the text after its stale tail too.
    cut_bytes = len(committed.encode()) - len(head.encode()) - len(region.encode())
    cut_lines = committed.count("\n") - head.count("\n") - region.count("\n")
    assert note.group(1, 2) == (f"{cut_bytes:,}", f"{cut_lines:,}")
    # A save merges the spill file and the current line: all of it.
    saved = merge_spilled(dump_notebook(writer._notebook), spill)
    assert saved["cells"][0]["outputs"][0]["text"] == "".join(fed)
    writer.close()


@pytest.mark.parametrize("end", ["finish", "append", "close", "other stream"])
def test_a_stream_that_ends_shows_its_true_tail(tmp_path: Path, end: str) -> None:
    writer, _, _, spill = flood_writer(tmp_path)
    fed = [numbered(0, 8_000)]
    writer.stream("a", "stdout", fed[0])
    writer.flush()
    for block in range(1, 20):
        fed.append(numbered(block * 1000, 1000))
        writer.stream("a", "stdout", fed[-1])
        writer.flush()
    assert writer.pending and not shown(writer).endswith(fed[-1])

    if end == "finish":
        writer.finish("a")
    elif end == "append":
        writer.append("a", display("plot"))
    elif end == "close":
        writer.close()
    else:
        writer.stream("a", "stderr", "warning\n")
        writer.flush()
    result = outputs(writer._notebook)
    marker = SpillMarker.of(result[0])
    assert marker is not None
    assert result[0]["text"] == rendered_twin(fed, spill, marker.output_id)
    assert (
        result[1:]
        == {
            "finish": [],
            "close": [],
            "append": [display("plot")],
            "other stream": [{"output_type": "stream", "name": "stderr", "text": "warning\n"}],
        }[end]
    )
    assert not writer.pending


def test_the_final_update_equals_render(tmp_path: Path) -> None:
    spill = SpillStore(tmp_path / "spill")
    clock = ManualClock()
    live = LiveStream("stdout", spill, CAP, refresh_rate=RATE, clock=clock)
    client = Client()
    fed: list[str] = []
    for j in range(3_000):  # 1.3 MB: lines, redrawn lines, and progress bars
        chunk = f"{j} ä€😀 " * (j % 9) * 5 + ("\n" if j % 3 else "\r") + "█" * (j % 50)
        live.feed(chunk)
        fed.append(chunk)
        if j % 10 == 0:
            clock.advance(0.1 * (j % 30 == 0))
            text = client.flush(live)
    assert live.spilled and live.changed  # stale
    marker = SpillMarker.of(client.output())
    assert marker is not None
    assert text != rendered_twin(fed, spill, marker.output_id)

    with client.doc.transaction():
        live.apply(client.root["out"], final=True)
    text = str(client.root["out"]["text"])
    assert str(client.replica.get("outputs", type=Map)["out"]["text"]) == text
    assert not live.changed
    assert text == rendered_twin(fed, spill, marker.output_id)
    assert live.render(0)["text"] == text
    live.close()


@pytest.mark.anyio
async def test_run_refreshes_a_stale_tail_once_the_budget_allows(tmp_path: Path) -> None:
    writer, clock, _, spill = flood_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        fed = [numbered(0, 8_000)]
        writer.stream("a", "stdout", fed[0])
        await until(lambda: writer.flushes == 1)
        for block in range(1, 10):  # 210 KB/s for a second
            fed.append(numbered(block * 1000, 1000))
            writer.stream("a", "stdout", fed[-1])
            await clock.wait_for_sleepers()
            clock.advance(0.1)
            await until(lambda n=block + 1: writer.flushes == n)
        assert writer.pending and not shown(writer).endswith(fed[-1])

        # No more text: the run loop refreshes the tail when the budget has refilled.
        for _ in range(int(TAIL / RATE / 0.1) + 2):
            await clock.wait_for_sleepers()
            clock.advance(0.1)
            await anyio.lowlevel.checkpoint()
            if not writer.pending:
                break
        await until(lambda: not writer.pending)
        marker = SpillMarker.of(outputs(writer._notebook)[0])
        assert marker is not None
        assert shown(writer) == rendered_twin(fed, spill, marker.output_id)
        # Idle now: the loop waits for text, not the clock.
        await anyio.lowlevel.checkpoint()
        assert clock.sleepers == 0
        tg.cancel_scope.cancel()
    writer.close()
