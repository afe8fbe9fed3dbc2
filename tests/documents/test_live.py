"""The live notebook: saving, autosave, crash recovery, external changes, merging PUTs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import nbformat
import pytest

from adrastea.config import DocumentSettings
from adrastea.documents import (
    ConflictDetected,
    FileChangedOnDisk,
    LiveNotebook,
    ManualClock,
    Reloaded,
    Saved,
    SaveFailed,
    SpillMarker,
    document_dir,
    dump_notebook,
    parse_notebook,
    recover_journal,
)
from adrastea.errors import FileNotFound, InvalidNotebook

from .conftest import Events
from .notebooks import as_text, rich_notebook

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Options:
    autosave_delay: float = 5.0
    output_cap_bytes: int = 1_000_000
    output_budget_bytes: int = 4_000_000
    stream_coalesce_interval: float = 0.1


# Blocking file access lives in these sync helpers: tests may block, async code may not.


def contents(path: Path) -> bytes:
    return path.read_bytes()


def write_notebook_file(path: Path, nb: dict[str, Any]) -> None:
    path.write_text(as_text(nb), encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def remove(path: Path) -> None:
    path.unlink()


def run_until_ready_then_kill(script: Path, *args: Path) -> None:
    """Run ``script`` until it prints "ready", then SIGKILL it."""
    with subprocess.Popen(
        [sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def file_cells(path: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = parse_notebook(path.read_bytes())["cells"]
    return cells


def write_external(path: Path, change: dict[str, Any]) -> None:
    """Another program rewrites the notebook (changing cell 1's source)."""
    nb = rich_notebook()
    nb["cells"][1]["source"] = change["source"]
    path.write_text(as_text(nb), encoding="utf-8")


async def test_save_writes_what_nbformat_would(nb_path: Path, tmp_path: Path) -> None:
    original = nbformat.reads(contents(nb_path), as_version=4)
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        assert not doc.dirty
        stamp = await doc.save()

    assert contents(nb_path).decode() == nbformat.writes(original) + "\n"
    assert stamp.sha256 == doc.stamp.sha256


async def test_edits_are_autosaved_after_the_delay(
    nb_path: Path, tmp_path: Path, events: Events
) -> None:
    clock = ManualClock()
    async with LiveNotebook.open(
        nb_path,
        work_dir=tmp_path / "work",
        settings=Options(autosave_delay=5.0),
        clock=clock,
        on_event=events,
        check_interval=1000,
    ) as doc:
        doc.notebook.set_cell(1, source="edited in the browser")
        assert doc.dirty
        await clock.wait_for_sleepers(3)  # autosave, journal fsync, file watch

        clock.advance(4.9)
        await clock.wait_for_sleepers(2)
        assert events.of(Saved) == []

        clock.advance(0.1)
        saved = await events.wait_for(Saved)

        assert saved.autosave
        assert not doc.dirty
        assert file_cells(nb_path)[1]["source"] == "edited in the browser"


async def test_outputs_reach_the_file(nb_path: Path, tmp_path: Path) -> None:
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        doc.outputs.stream("code-2", "stdout", "hello\n")
        doc.outputs.append(
            "code-2", {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}
        )
        await doc.save()
        live = await doc.to_nbformat()

    assert file_cells(nb_path)[3]["outputs"] == live["cells"][3]["outputs"]
    assert live["cells"][3]["outputs"][0] == {
        "output_type": "stream",
        "name": "stdout",
        "text": "hello\n",
    }


async def test_huge_output_is_spilled_saved_in_full_and_capped_again_on_load(
    nb_path: Path, tmp_path: Path
) -> None:
    settings = DocumentSettings(output_cap_bytes=5000)
    text = "".join(f"row {i}\n" for i in range(20_000))
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "w1", settings=settings) as doc:
        for start in range(0, len(text), 4096):
            doc.outputs.stream("code-2", "stdout", text[start : start + 4096])
        doc.outputs.flush()
        shown = dump_notebook(doc.notebook)["cells"][3]["outputs"][0]
        marker = SpillMarker.of(shown)
        assert marker is not None
        assert len(shown["text"].encode()) <= 5000

        page = await doc.read_output(marker.output_id, 0, 100)
        assert page.text == text.encode()[:100].decode()
        await doc.save()

    assert file_cells(nb_path)[3]["outputs"][0]["text"] == text

    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "w2", settings=settings) as again:
        reloaded = dump_notebook(again.notebook)["cells"][3]["outputs"][0]
        assert SpillMarker.of(reloaded) is not None
        assert (await again.to_nbformat())["cells"][3]["outputs"][0]["text"] == text


async def test_unsaved_changes_survive_a_crash(nb_path: Path, tmp_path: Path) -> None:
    before = contents(nb_path)
    crashed = await LiveNotebook.load(nb_path, work_dir=tmp_path / "work")
    crashed.notebook.set_cell(1, source="typed just before the crash")
    crashed.outputs.stream("code-2", "stdout", "printed too\n")
    crashed.outputs.flush()
    # Nothing saved, nothing closed: load again as a restarted server would.

    restarted = await LiveNotebook.load(nb_path, work_dir=tmp_path / "work")
    try:
        cells = dump_notebook(restarted.notebook)["cells"]
        assert cells[1]["source"] == "typed just before the crash"
        assert cells[3]["outputs"][0]["text"] == "printed too\n"
        assert restarted.dirty
        assert restarted.orphaned_journal is None
        assert contents(nb_path) == before
        assert restarted.ydoc.get_state() == crashed.ydoc.get_state()  # the same Y history
    finally:
        await crashed.aclose(save=False)
        await restarted.aclose(save=False)


@pytest.mark.slow
async def test_kill_9_loses_nothing(nb_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    write_text(
        script,
        textwrap.dedent(
            """
            import sys
            from pathlib import Path

            import anyio

            from adrastea.config import DocumentSettings
            from adrastea.documents import LiveNotebook

            async def main() -> None:
                settings = DocumentSettings(autosave_delay=3600)
                path, work = Path(sys.argv[1]), Path(sys.argv[2])
                async with LiveNotebook.open(path, work_dir=work, settings=settings) as doc:
                    doc.notebook.set_cell(1, source="edited before kill -9")
                    doc.outputs.stream("code-2", "stdout", "output before kill -9\\n")
                    doc.outputs.flush()
                    print("ready", flush=True)
                    await anyio.sleep_forever()

            anyio.run(main)
            """
        ),
    )
    before = contents(nb_path)
    run_until_ready_then_kill(script, nb_path, tmp_path / "work")

    assert contents(nb_path) == before
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        cells = dump_notebook(doc.notebook)["cells"]
        assert cells[1]["source"] == "edited before kill -9"
        assert cells[3]["outputs"][0]["text"] == "output before kill -9\n"
        assert doc.dirty


async def test_external_change_is_followed_when_clean(
    nb_path: Path, tmp_path: Path, events: Events
) -> None:
    clock = ManualClock()
    async with LiveNotebook.open(
        nb_path, work_dir=tmp_path / "work", clock=clock, on_event=events, check_interval=2.0
    ) as doc:
        write_external(nb_path, {"source": "changed by git pull"})
        await clock.wait_for_sleepers(1)

        clock.advance(2.0)
        reloaded = await events.wait_for(Reloaded)

        assert dump_notebook(doc.notebook)["cells"][1]["source"] == "changed by git pull"
        assert reloaded.stamp.sha256 == doc.stamp.sha256
        assert not doc.dirty


async def test_external_change_with_unsaved_edits_is_a_conflict(
    nb_path: Path, tmp_path: Path, events: Events
) -> None:
    async with LiveNotebook.open(
        nb_path, work_dir=tmp_path / "work", on_event=events, check_interval=1000
    ) as doc:
        doc.notebook.set_cell(0, source="my unsaved edit")
        write_external(nb_path, {"source": "their edit"})
        theirs = contents(nb_path)

        with pytest.raises(FileChangedOnDisk) as info:
            await doc.save()

        assert info.value.code == "file-changed-on-disk"
        assert contents(nb_path) == theirs
        assert len(events.of(ConflictDetected)) == 1
        assert doc.conflict is not None
        with pytest.raises(FileChangedOnDisk):
            await doc.check_file()
        assert len(events.of(ConflictDetected)) == 1  # reported once

        await doc.save(force=True)

        assert doc.conflict is None
        cells = file_cells(nb_path)
        assert cells[0]["source"] == "my unsaved edit"
        assert cells[1]["source"] == rich_notebook()["cells"][1]["source"]


async def test_reload_takes_the_file_and_drops_unsaved_edits(nb_path: Path, tmp_path: Path) -> None:
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work", check_interval=1000) as doc:
        doc.notebook.set_cell(0, source="my unsaved edit")
        write_external(nb_path, {"source": "their edit"})

        await doc.reload()

        cells = dump_notebook(doc.notebook)["cells"]
        assert cells[1]["source"] == "their edit"
        assert "# Title" in cells[0]["source"]
        assert not doc.dirty


async def test_touching_the_file_is_not_a_change(
    nb_path: Path, tmp_path: Path, events: Events
) -> None:
    async with LiveNotebook.open(
        nb_path, work_dir=tmp_path / "work", on_event=events, check_interval=1000
    ) as doc:
        doc.notebook.set_cell(0, source="unsaved")
        os.utime(nb_path, ns=(1, 1))

        await doc.check_file()

        assert events.items == []
        assert doc.stamp.mtime_ns == 1


async def test_deleted_file_is_a_conflict(nb_path: Path, tmp_path: Path, events: Events) -> None:
    async with LiveNotebook.open(
        nb_path, work_dir=tmp_path / "work", on_event=events, check_interval=1000
    ) as doc:
        remove(nb_path)

        with pytest.raises(FileChangedOnDisk, match="deleted"):
            await doc.check_file()
        await doc.save(force=True)

    assert file_cells(nb_path)[1]["id"] == "raw-1"


async def test_journal_is_set_aside_when_the_file_changed_while_down(
    nb_path: Path, tmp_path: Path
) -> None:
    first = await LiveNotebook.load(nb_path, work_dir=tmp_path / "work")
    first.notebook.set_cell(1, source="unsaved when the server stopped")
    await first.aclose(save=False)
    write_external(nb_path, {"source": "edited while the server was down"})

    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        assert dump_notebook(doc.notebook)["cells"][1]["source"] == (
            "edited while the server was down"
        )
        assert doc.orphaned_journal is not None
        recovered = recover_journal(doc.orphaned_journal)
        assert recovered["cells"][1]["source"] == "unsaved when the server stopped"


async def test_apply_nbformat_touches_only_what_changed(nb_path: Path, tmp_path: Path) -> None:
    nb = rich_notebook()
    nb["cells"][0]["source"] = "big unchanged cell\n" * 5000
    write_notebook_file(nb_path, nb)
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        put = parse_notebook(as_text(nb))
        put["cells"][1]["source"] = "raw *text* edited"
        put["cells"][2]["metadata"]["tags"] = ["edited"]
        del put["cells"][3]
        put["cells"].append(
            {"cell_type": "markdown", "id": "new-cell", "metadata": {}, "source": "new"}
        )
        updates: list[bytes] = []
        doc.ydoc.observe(lambda event: updates.append(event.update))

        await doc.apply_nbformat(put)

        assert dump_notebook(doc.notebook) == put
        assert sum(len(update) for update in updates) < 2000  # the big cell was not re-sent
        assert doc.dirty


async def test_apply_nbformat_matches_id_less_cells_by_content(tmp_path: Path) -> None:
    path = tmp_path / "old.ipynb"
    nb = rich_notebook(minor=4)
    nb["cells"][0]["source"] = "big unchanged cell\n" * 5000
    write_notebook_file(path, nb)
    async with LiveNotebook.open(path, work_dir=tmp_path / "work") as doc:
        put = parse_notebook(as_text(nb))
        put["cells"][2]["source"] = "print('edited')"
        updates: list[bytes] = []
        doc.ydoc.observe(lambda event: updates.append(event.update))

        await doc.apply_nbformat(put)

        assert dump_notebook(doc.notebook) == put
        assert sum(len(update) for update in updates) < 2000


async def test_apply_nbformat_refuses_an_invalid_notebook(nb_path: Path, tmp_path: Path) -> None:
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        before = dump_notebook(doc.notebook)
        with pytest.raises(InvalidNotebook):
            await doc.apply_nbformat({"cells": [{"cell_type": "nope"}], "nbformat": 4})
        assert dump_notebook(doc.notebook) == before


async def test_an_invalid_live_document_is_not_saved(
    nb_path: Path, tmp_path: Path, events: Events
) -> None:
    clock = ManualClock()
    before = contents(nb_path)
    async with LiveNotebook.open(
        nb_path,
        work_dir=tmp_path / "work",
        clock=clock,
        on_event=events,
        settings=Options(autosave_delay=1.0),
        check_interval=1000,
    ) as doc:
        doc.notebook.ycells[1]["cell_type"] = "bogus"  # a misbehaving client

        with pytest.raises(InvalidNotebook):
            await doc.save()
        await clock.wait_for_sleepers(3)
        clock.advance(1.0)
        failed = await events.wait_for(SaveFailed)

        assert isinstance(failed.error, InvalidNotebook)
        assert contents(nb_path) == before
        await doc.aclose(save=False)


async def test_missing_and_invalid_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFound):
        await LiveNotebook.load(tmp_path / "missing.ipynb", work_dir=tmp_path / "w")
    bad = tmp_path / "bad.ipynb"
    write_notebook_file(bad, {"cells": 1})
    with pytest.raises(InvalidNotebook):
        await LiveNotebook.load(bad, work_dir=tmp_path / "w")


def test_document_dir_is_stable_and_distinct(tmp_path: Path) -> None:
    a = document_dir(tmp_path, tmp_path / "a.ipynb")

    assert a == document_dir(tmp_path, tmp_path / "." / "a.ipynb")
    assert a != document_dir(tmp_path, tmp_path / "b.ipynb")
    assert a.is_relative_to(tmp_path)


async def test_closing_saves_unsaved_changes(nb_path: Path, tmp_path: Path) -> None:
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        doc.notebook.set_cell(1, source="saved on close")

    assert file_cells(nb_path)[1]["source"] == "saved on close"
    assert json.loads(contents(nb_path))["nbformat_minor"] == 5


async def test_duplicate_ids_from_clients_are_repaired_once(nb_path: Path, tmp_path: Path) -> None:
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        doc.notebook.ycells[1]["id"] = "md-attach"  # a client copied a cell, id and all

        await doc.save()
        first = [cell["id"] for cell in file_cells(nb_path)]
        await doc.save()

        assert len(set(first)) == len(first)
        assert first[0] == "md-attach"
        assert [cell["id"] for cell in file_cells(nb_path)] == first
        assert [cell["id"] for cell in dump_notebook(doc.notebook)["cells"]] == first


async def test_load_and_run_in_the_callers_task_group(
    nb_path: Path, tmp_path: Path, events: Events
) -> None:
    clock = ManualClock()
    doc = await LiveNotebook.load(
        nb_path,
        work_dir=tmp_path / "work",
        settings=Options(autosave_delay=1.0),
        clock=clock,
        on_event=events,
        check_interval=1000,
    )
    async with anyio.create_task_group() as tg:
        await tg.start(doc.run)
        doc.notebook.set_cell(1, source="autosaved by the caller's tasks")
        await clock.wait_for_sleepers(3)
        clock.advance(1.0)
        await events.wait_for(Saved)
        tg.cancel_scope.cancel()
    await doc.aclose()

    assert file_cells(nb_path)[1]["source"] == "autosaved by the caller's tasks"


async def test_a_clean_journal_gives_way_to_a_changed_file(nb_path: Path, tmp_path: Path) -> None:
    first = await LiveNotebook.load(nb_path, work_dir=tmp_path / "work")
    await first.aclose()
    write_external(nb_path, {"source": "edited while the server was down"})

    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        assert dump_notebook(doc.notebook)["cells"][1]["source"] == (
            "edited while the server was down"
        )
        assert doc.orphaned_journal is None
        assert not doc.dirty


async def test_session_id_survives_a_restart_but_not_a_rebuild(
    nb_path: Path, tmp_path: Path
) -> None:
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        first = doc.session_id
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "work") as doc:
        assert doc.session_id == first  # replayed from the journal: the same Y history
    async with LiveNotebook.open(nb_path, work_dir=tmp_path / "elsewhere") as doc:
        assert doc.session_id != first
        assert len(doc.session_id) == 32
