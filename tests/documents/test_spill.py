"""Large outputs: capping, the spill folder, paged reads, and merging full outputs back."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import nbformat
import pytest

from adrastea.documents import (
    OutputWriter,
    SpillMarker,
    SpillStore,
    TerminalText,
    cap_notebook,
    cap_output,
    dump_notebook,
    lazy_spilled,
    load_notebook,
    merge_spilled,
    new_ynotebook,
    parse_notebook,
    validate_notebook,
    write_notebook,
)
from adrastea.errors import NotFound

from .conftest import rss_bytes
from .notebooks import as_text, rich_notebook

CAP = 10_000


def notebook_with(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    nb = parse_notebook(as_text(rich_notebook()))
    nb["cells"][3]["outputs"] = outputs
    return nb


def big_stream() -> dict[str, Any]:
    text = "".join(f"line {i} ünïcödé\n" for i in range(5000)) + "last, no newline"
    return {"output_type": "stream", "name": "stdout", "text": text}


def big_image() -> dict[str, Any]:
    png = base64.b64encode(random.Random(1).randbytes(30_000)).decode()
    return {
        "output_type": "display_data",
        "data": {"image/png": png, "text/plain": "<Figure size 640x480>"},
        "metadata": {"image/png": {"width": 640}},
    }


def big_error() -> dict[str, Any]:
    frames = [f"frame {i}: " + "x" * 80 for i in range(500)]
    return {
        "output_type": "error",
        "ename": "RecursionError",
        "evalue": "too deep",
        "traceback": frames,
    }


@pytest.fixture
def spill(tmp_path: Path) -> SpillStore:
    return SpillStore(tmp_path / "spill")


def test_small_outputs_are_not_touched(spill: SpillStore) -> None:
    output = {"output_type": "stream", "name": "stdout", "text": "hi\n"}

    assert cap_output(output, spill, CAP) is output
    assert not spill.folder.exists()


def test_capped_stream_keeps_head_tail_and_a_note(spill: SpillStore) -> None:
    original = big_stream()

    capped = cap_output(original, spill, CAP)

    marker = SpillMarker.of(capped)
    assert marker is not None and marker.kind == "stream"
    text = capped["text"]
    assert len(text.encode()) <= CAP
    assert text.startswith("line 0 ünïcödé\n")
    assert text.endswith("line 4999 ünïcödé\nlast, no newline")
    assert f"full output: {marker.output_id}" in text
    assert "bytes (" in text and "lines) not shown" in text
    assert marker.total_bytes == len(original["text"].encode())
    assert marker.total_lines == 5000


def test_capped_rich_output_is_a_text_placeholder(spill: SpillStore) -> None:
    capped = cap_output(big_image(), spill, CAP)

    marker = SpillMarker.of(capped)
    assert marker is not None and marker.kind == "output"
    assert list(capped["data"]) == ["text/plain"]
    assert capped["data"]["text/plain"].startswith("<Figure size 640x480>\n[output of ")
    assert "image/png" in capped["data"]["text/plain"]
    assert spill.load_output(marker.output_id) == big_image()


def test_capped_error_keeps_both_ends_of_the_traceback(spill: SpillStore) -> None:
    capped = cap_output(big_error(), spill, CAP)

    assert capped["ename"] == "RecursionError"
    assert capped["traceback"][0].startswith("frame 0:")
    assert capped["traceback"][-1].startswith("frame 499:")
    assert any("traceback lines" in line for line in capped["traceback"])
    assert len(json.dumps(capped).encode()) < CAP


def test_cap_then_merge_gives_back_the_original(spill: SpillStore) -> None:
    original = notebook_with(
        [
            big_stream(),
            big_image(),
            big_error(),
            {"output_type": "stream", "name": "stderr", "text": "small"},
        ]
    )

    capped = cap_notebook(original, spill, CAP)
    live = new_ynotebook()
    load_notebook(live, capped)
    merged = merge_spilled(dump_notebook(live), spill)

    assert len(json.dumps(capped)) < len(json.dumps(original)) // 3
    assert merged == original
    validate_notebook(merged)


def test_lazy_merge_writes_the_complete_file(spill: SpillStore, tmp_path: Path) -> None:
    original = notebook_with([big_stream(), big_image()])
    live = new_ynotebook()
    load_notebook(live, cap_notebook(original, spill, CAP))

    disk, lazy = lazy_spilled(dump_notebook(live), spill)
    write_notebook(tmp_path / "out.ipynb", disk, lazy)

    text = (tmp_path / "out.ipynb").read_text(encoding="utf-8")
    assert text == nbformat.writes(nbformat.from_dict(original)) + "\n"


def test_a_lost_spill_file_leaves_a_valid_stand_in(spill: SpillStore) -> None:
    capped = cap_notebook(notebook_with([big_stream()]), spill, CAP)
    for path in spill.folder.iterdir():
        path.unlink()

    merged = merge_spilled(capped, spill)

    output = merged["cells"][3]["outputs"][0]
    assert "not shown" in output["text"] and "metadata" not in output
    validate_notebook(merged)


def test_paged_reads_cover_every_byte_on_character_boundaries(spill: SpillStore) -> None:
    output = big_stream()
    marker = SpillMarker.of(cap_output(output, spill, CAP))
    assert marker is not None

    pages, offset = [], 0
    while True:
        page = spill.read(marker.output_id, offset, limit=997)  # odd size: cuts characters
        pages.append(page.text)
        offset = page.next_offset
        if page.eof:
            break

    assert "".join(pages) == output["text"]
    assert page.total_bytes == marker.total_bytes
    assert spill.read(marker.output_id, 7, 4).offset == 7
    middle = spill.read(marker.output_id, 11, 10)  # 11 is inside "ü"
    assert middle.offset == 12
    assert middle.text == output["text"].encode()[12:21].decode()


def test_unknown_or_hostile_ids_are_not_found(spill: SpillStore) -> None:
    for output_id in ["../../etc/passwd", "0" * 32, "ABC"]:
        with pytest.raises(NotFound):
            spill.read(output_id)


def test_collect_removes_unreferenced_files(spill: SpillStore) -> None:
    keep = SpillMarker.of(cap_output(big_stream(), spill, CAP))
    drop = SpillMarker.of(cap_output(big_image(), spill, CAP))
    assert keep is not None and drop is not None

    assert spill.collect({keep.output_id}) == 1
    assert spill.exists(keep.output_id) and not spill.exists(drop.output_id)


@pytest.mark.slow
def test_live_stream_stays_capped_and_merges_to_the_full_text(tmp_path: Path) -> None:
    rnd = random.Random(11)
    alphabet = ["a", "é", "😀", "\n", "\n", "\r", "\b", "xyz" * 30, "\n" * 3, "long" * 200]
    for trial in range(60):
        cap = rnd.choice([1001, 3000, 10_000])
        live = new_ynotebook()
        load_notebook(live, notebook_with([]))
        spill = SpillStore(tmp_path / f"spill{trial}")
        writer = OutputWriter(live, spill, cap_bytes=cap)
        fed = []
        for _ in range(rnd.randint(1, 200)):
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 8)))
            fed.append(text)
            writer.stream("code-2", "stdout", text)
            if rnd.random() < 0.3:
                writer.flush()
        writer.close()

        term = TerminalText(max_line=max(64, cap // 4) // 4)
        expected = term.feed("".join(fed)) + term.line
        shown = dump_notebook(live)["cells"][3]["outputs"]
        full = merge_spilled(dump_notebook(live), spill)["cells"][3]["outputs"]
        assert len(shown) == 1
        assert len(shown[0]["text"].encode()) <= cap
        assert full == [{"output_type": "stream", "name": "stdout", "text": expected}]
        marker = SpillMarker.of(shown[0])
        if marker is not None:
            head, _, tail = shown[0]["text"].partition("\n… ")
            assert expected.startswith(head)
            assert expected.endswith(tail.split(" …\n", 1)[1])


@pytest.mark.slow
def test_a_50_mb_stream_keeps_memory_bounded_and_saves_completely(tmp_path: Path) -> None:
    live = new_ynotebook()
    load_notebook(live, notebook_with([]))
    spill = SpillStore(tmp_path / "spill")
    writer = OutputWriter(live, spill, cap_bytes=1_000_000)
    digest = hashlib.sha256()
    before = rss_bytes()
    peak = before
    total = 0
    block = 0
    while total < 50_000_000:
        chunk = "".join(f"{block:08d} {i:04d} " + "x" * 86 + "\n" for i in range(640))
        writer.stream("code-2", "stdout", chunk)
        digest.update(chunk.encode())
        total += len(chunk)
        block += 1
        if block % 4 == 0:
            writer.flush()
            peak = max(peak, rss_bytes())
    writer.close()
    peak = max(peak, rss_bytes())

    shown = dump_notebook(live)["cells"][3]["outputs"][0]
    assert len(shown["text"].encode()) <= 1_000_000
    assert peak - before < 30_000_000  # the stream itself is 50 MB

    disk, lazy = lazy_spilled(dump_notebook(live), spill)
    write_notebook(tmp_path / "big.ipynb", disk, lazy)
    assert rss_bytes() - before < 40_000_000

    with (tmp_path / "big.ipynb").open(encoding="utf-8") as f:
        saved = json.load(f)
    text = "".join(saved["cells"][3]["outputs"][0]["text"])
    assert len(text) == total
    assert hashlib.sha256(text.encode()).hexdigest() == digest.hexdigest()
