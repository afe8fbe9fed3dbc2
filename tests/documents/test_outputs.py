"""Outputs into the live document: coalesced streams, ordering, display updates, clearing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from jupyter_ydoc import YNotebook

from adrastea.documents import (
    ManualClock,
    OutputWriter,
    SpillStore,
    dump_notebook,
    load_notebook,
    new_ynotebook,
)

from .conftest import until


def code_cell(cell_id: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "source": "",
        "metadata": {},
        "outputs": outputs or [],
        "execution_count": None,
    }


def make_notebook(*cells: dict[str, Any]) -> YNotebook:
    notebook = new_ynotebook()
    load_notebook(
        notebook,
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    )
    return notebook


def outputs(notebook: YNotebook, index: int = 0) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = dump_notebook(notebook)["cells"][index]["outputs"]
    return result


def stream(name: str, text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def display(text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "data": {"text/plain": text}, "metadata": {}}


@pytest.fixture
def notebook() -> YNotebook:
    return make_notebook(code_cell("a"), code_cell("b"))


@pytest.fixture
def writer(notebook: YNotebook, tmp_path: Path) -> OutputWriter:
    return OutputWriter(notebook, SpillStore(tmp_path / "spill"), cap_bytes=1_000_000)


def count_updates(notebook: YNotebook) -> list[bytes]:
    updates: list[bytes] = []
    notebook.ydoc.observe(lambda event: updates.append(event.update))
    return updates


def test_tqdm_style_progress_is_one_line_and_few_updates(
    notebook: YNotebook, writer: OutputWriter
) -> None:
    updates = count_updates(notebook)

    for i in range(1, 10_001):
        writer.stream("a", "stderr", f"\r{i // 100:3d}%|{'█' * (i // 1000):<10}| {i}/10000")
        if i % 1000 == 0:
            writer.flush()
    writer.stream("a", "stderr", "\n")
    writer.flush()

    assert outputs(notebook) == [stream("stderr", "100%|██████████| 10000/10000\n")]
    assert len(updates) == 11
    assert max(len(update) for update in updates) < 300


def test_stream_text_waits_for_flush(notebook: YNotebook, writer: OutputWriter) -> None:
    updates = count_updates(notebook)

    for i in range(1000):
        writer.stream("a", "stdout", f"{i}\n")

    assert writer.pending
    assert updates == []
    writer.flush()
    assert len(updates) == 1
    assert outputs(notebook) == [stream("stdout", "".join(f"{i}\n" for i in range(1000)))]


def test_order_of_streams_and_other_outputs_is_kept(
    notebook: YNotebook, writer: OutputWriter
) -> None:
    writer.stream("a", "stdout", "one\n")
    writer.stream("a", "stderr", "warn\n")
    writer.stream("a", "stdout", "two\n")
    writer.append("a", display("plot"))
    writer.stream("a", "stdout", "three\n")
    writer.stream("a", "stdout", "four\n")
    writer.flush()

    assert outputs(notebook) == [
        stream("stdout", "one\n"),
        stream("stderr", "warn\n"),
        stream("stdout", "two\n"),
        display("plot"),
        stream("stdout", "three\nfour\n"),
    ]


def test_indices_are_known_before_the_flush(notebook: YNotebook, writer: OutputWriter) -> None:
    assert writer.append("a", display("first")) == 0
    assert writer.stream("a", "stdout", "x") == 1
    assert writer.stream("a", "stderr", "y") == 2
    assert writer.stream("a", "stdout", "z") == 3
    assert writer.stream("a", "stdout", "") == -1
    writer.flush()
    assert writer.stream("a", "stdout", "w") == 3
    assert writer.append("a", display("last")) == 4
    assert [o["output_type"] for o in outputs(notebook)] == [
        "display_data",
        "stream",
        "stream",
        "stream",
        "display_data",
    ]


def test_stream_continues_across_flushes(notebook: YNotebook, writer: OutputWriter) -> None:
    writer.stream("a", "stdout", "loading")
    writer.flush()
    writer.stream("a", "stdout", "...")
    writer.flush()
    writer.stream("a", "stdout", " done\n")
    writer.flush()

    assert outputs(notebook) == [stream("stdout", "loading... done\n")]


def test_stream_joins_an_existing_last_stream_output(tmp_path: Path) -> None:
    notebook = make_notebook(code_cell("a", [stream("stdout", "old\npartial")]))
    writer = OutputWriter(notebook, SpillStore(tmp_path))

    writer.stream("a", "stdout", " line\r!\n")
    writer.flush()

    assert outputs(notebook) == [stream("stdout", "old\n!artial line\n")]


def test_cells_are_independent(notebook: YNotebook, writer: OutputWriter) -> None:
    writer.stream("a", "stdout", "in a\n")
    writer.stream("b", "stdout", "in b\n")
    writer.append("b", display("b's"))

    assert outputs(notebook, 0) == []
    writer.flush()
    assert outputs(notebook, 0) == [stream("stdout", "in a\n")]
    assert outputs(notebook, 1) == [stream("stdout", "in b\n"), display("b's")]


def test_clear_and_clear_wait(notebook: YNotebook, writer: OutputWriter) -> None:
    writer.stream("a", "stdout", "first\n")
    writer.append("a", display("x"))
    writer.clear("a", wait=True)

    assert len(outputs(notebook)) == 2
    writer.stream("a", "stdout", "second\n")
    writer.flush()
    assert outputs(notebook) == [stream("stdout", "second\n")]

    writer.stream("a", "stdout", "never shown\n")
    writer.clear("a")
    writer.flush()
    assert outputs(notebook) == []


def test_update_display_rewrites_every_output_with_the_id(
    notebook: YNotebook, writer: OutputWriter
) -> None:
    writer.append("a", display("0%"), display_id="bar")
    writer.append("b", {**display("0%"), "output_type": "execute_result", "execution_count": 4})
    writer.append("b", display("also 0%"), display_id="bar")

    assert writer.update_display("bar", display("100%")) == 2
    assert outputs(notebook, 0) == [display("100%")]
    assert outputs(notebook, 1)[1] == display("100%")
    assert outputs(notebook, 1)[0]["data"] == {"text/plain": "0%"}

    writer.clear("a")
    assert writer.update_display("bar", display("done")) == 1


def test_replace_output(notebook: YNotebook, writer: OutputWriter) -> None:
    writer.append("a", display("x"))
    writer.append("a", display("y"))

    writer.replace("a", 1, display("z"))

    assert outputs(notebook) == [display("x"), display("z")]
    with pytest.raises(IndexError):
        writer.replace("a", 5, display("nope"))


def test_outputs_for_a_deleted_cell_are_dropped(notebook: YNotebook, writer: OutputWriter) -> None:
    writer.stream("a", "stdout", "x\n")
    del notebook.ycells[0]

    writer.flush()
    writer.append("a", display("y"))

    assert [cell["id"] for cell in dump_notebook(notebook)["cells"]] == ["b"]
    assert outputs(notebook) == []


def test_a_client_clearing_outputs_midstream_gets_only_new_text(
    notebook: YNotebook, writer: OutputWriter
) -> None:
    writer.stream("a", "stdout", "before\n")
    writer.flush()
    notebook.ycells[0]["outputs"].clear()  # a browser pressed "clear outputs"

    writer.stream("a", "stdout", "after\n")
    writer.flush()

    assert outputs(notebook) == [stream("stdout", "after\n")]


def test_finish_releases_stream_state(notebook: YNotebook, writer: OutputWriter) -> None:
    writer.stream("a", "stdout", "x")
    writer.finish("a")

    assert outputs(notebook) == [stream("stdout", "x")]
    writer.stream("a", "stdout", "y")
    writer.flush()
    assert outputs(notebook) == [stream("stdout", "xy")]


@pytest.mark.anyio
async def test_run_flushes_at_most_every_interval(notebook: YNotebook, tmp_path: Path) -> None:
    clock = ManualClock()
    writer = OutputWriter(notebook, SpillStore(tmp_path), interval=0.1, clock=clock)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)

        writer.stream("a", "stdout", "1\n")
        await until(lambda: writer.flushes == 1)  # the first text goes out at once
        writer.stream("a", "stdout", "2\n")
        writer.stream("a", "stdout", "3\n")
        await clock.wait_for_sleepers()
        assert outputs(notebook) == [stream("stdout", "1\n")]

        clock.advance(0.05)
        await anyio.lowlevel.checkpoint()
        assert writer.flushes == 1
        clock.advance(0.05)
        await until(lambda: writer.flushes == 2)
        assert outputs(notebook) == [stream("stdout", "1\n2\n3\n")]
        tg.cancel_scope.cancel()
