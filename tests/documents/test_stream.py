"""One live stream output: what a client is sent when it crosses the display cap, and that the
incremental document edits agree with a from-scratch render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from adrastea.documents import OutputWriter, SpillMarker, SpillStore, TerminalText
from adrastea.documents._stream import LiveStream

from .test_outputs import code_cell, make_notebook, outputs

CAP = 100_000


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
    twin = LiveStream("stdout", spill, CAP)
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
    writer = OutputWriter(notebook, SpillStore(tmp_path / "spill"), cap_bytes=CAP)
    updates: list[bytes] = []
    notebook.ydoc.observe(lambda event: updates.append(event.update))

    printed = 0
    spilled_at = None
    for block in range(40):
        chunk = "".join(f"{block:03d} {i:03d} ünïcødé ✓\n" for i in range(200))
        writer.stream("a", "stdout", chunk)
        printed += len(chunk.encode())
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
    live = LiveStream("stdout", spill, CAP)
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
