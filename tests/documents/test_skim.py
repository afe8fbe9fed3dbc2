"""Opening big notebooks within an output budget: previews, snapshots, nothing lost."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adrastea.documents import (
    LiveNotebook,
    SpillMarker,
    SpillStore,
    dump_notebook,
    merge_spilled,
    parse_notebook,
    read_notebook,
    write_notebook,
)
from adrastea.documents._skim import output_allowance, read_capped
from adrastea.documents._ynotebook import new_ynotebook
from adrastea.errors import InvalidNotebook

from .notebooks import as_text, rich_notebook

BUDGET = 60_000
CAP = 1_000_000


def _lines(rng: random.Random, count: int, tag: str) -> str:
    # Quotes, backslashes and non-ASCII on purpose: they are what the raw scanner must
    # not trip over.
    extras = ['"quoted"', "back\\slash", "ünï 😀", '\\"', "tab\there", ""]
    return "".join(f"{tag}:{i:05d} {rng.choice(extras)} {rng.random():.6f}\n" for i in range(count))


def big_notebook(rng: random.Random) -> dict[str, Any]:
    """rich_notebook() plus cells whose outputs together exceed BUDGET many times."""
    nb = parse_notebook(as_text(rich_notebook()))
    png = base64.b64encode(rng.randbytes(30_000)).decode()
    for i in range(12):
        outputs: list[dict[str, Any]] = [
            {"output_type": "stream", "name": "stdout", "text": _lines(rng, 400, f"c{i}")},
            {"output_type": "stream", "name": "stderr", "text": "small\n"},
        ]
        if i % 3 == 0:
            outputs.append(
                {
                    "output_type": "display_data",
                    "data": {"image/png": png, "text/plain": f"<Figure {i}>"},
                    "metadata": {"image/png": {"width": 640}},
                }
            )
        if i % 4 == 1:
            outputs.append(
                {
                    "output_type": "execute_result",
                    "execution_count": i,
                    "data": {"text/html": "<td>x</td>\n" * 3000, "text/plain": "table"},
                    "metadata": {},
                }
            )
        if i == 5:
            frames = [f"frame {k} \x1b[0;31m{'x' * 60}\x1b[0m" for k in range(600)]
            outputs.append(
                {"output_type": "error", "ename": "E", "evalue": "v", "traceback": frames}
            )
        nb["cells"].append(
            {
                "cell_type": "code",
                "id": f"big-{i}",
                "execution_count": i,
                "metadata": {"n": i},
                "source": f"print({i})",
                "outputs": outputs,
            }
        )
    return nb


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.ipynb"
    write_notebook(path, big_notebook(random.Random(7)))  # nbformat's own layout
    return path


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _stand_ins(nb: dict[str, Any]) -> list[tuple[dict[str, Any], SpillMarker]]:
    found = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            marker = SpillMarker.of(output)
            if marker is not None:
                found.append((output, marker))
    return found


def test_a_big_notebook_opens_within_the_budget_and_merges_back_whole(
    big_file: Path, tmp_path: Path
) -> None:
    spill = SpillStore(tmp_path / "spill")
    nb, stamp = read_capped(big_file, spill, cap_bytes=CAP, budget_bytes=BUDGET)

    full, full_stamp = read_notebook(big_file)
    assert stamp == full_stamp
    stand_ins = _stand_ins(nb)
    kinds = {output["output_type"] for output, _ in stand_ins}
    assert kinds == {"stream", "display_data", "execute_result", "error"}
    # The document holds about the budget (plus the small outputs and the sources).
    assert len(json.dumps(nb)) < 4 * BUDGET
    assert merge_spilled(nb, spill) == full


def test_stream_previews_are_the_true_head_and_tail(big_file: Path, tmp_path: Path) -> None:
    spill = SpillStore(tmp_path / "spill")
    nb, _ = read_capped(big_file, spill, cap_bytes=CAP, budget_bytes=BUDGET)
    full, _ = read_notebook(big_file)
    streams = 0
    for cell, full_cell in zip(nb["cells"], full["cells"], strict=True):
        pairs = zip(cell.get("outputs", []), full_cell.get("outputs", []), strict=True)
        for output, full_output in pairs:
            marker = SpillMarker.of(output)
            if marker is None or marker.kind != "stream":
                continue
            streams += 1
            head, _, rest = output["text"].partition("\n… not shown: ")
            tail = rest.split(" …\n", 1)[1]
            assert head and tail
            assert full_output["text"].startswith(head)
            assert full_output["text"].endswith(tail)
            assert head.endswith("\n") and not tail.startswith(tail.split("\n")[0] + "x")
            # A page request reads the full text back.
            page = spill.read(marker.output_id, 0, 10_000_000)
            assert page.kind == "stream" and page.eof and page.text == full_output["text"]
    assert streams >= 12


def test_escapes_and_one_string_texts_preview_exactly(tmp_path: Path) -> None:
    tricky = "".join(f'{i} "\\" \\\\" 😀 \u2028 x\n' for i in range(3000))
    nb = rich_notebook()  # the file's form: texts as lists of lines, or one string
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": tricky.splitlines(keepends=True)},
        {"output_type": "stream", "name": "stdout", "text": tricky[::-1]},
    ]
    nb["cells"].append({"cell_type": "code", "id": "t", "execution_count": 1,
                        "metadata": {}, "source": "", "outputs": outputs})  # fmt: skip
    path = tmp_path / "t.ipynb"
    path.write_text(as_text(nb))
    spill = SpillStore(tmp_path / "spill")
    capped, _ = read_capped(path, spill, cap_bytes=CAP, budget_bytes=20_000)
    full = parse_notebook(path.read_bytes())
    for output, marker in _stand_ins(capped):
        head, _, rest = output["text"].partition("\n… not shown: ")
        tail = rest.split(" …\n", 1)[1]
        whole = "".join(spill.iter_text(marker.output_id))
        assert whole.startswith(head) and whole.endswith(tail)
        assert len(head) > 1000 and len(tail) > 1000
    assert len(_stand_ins(capped)) == 2
    assert merge_spilled(capped, spill) == full


def test_an_invalid_big_notebook_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    nb = big_notebook(random.Random(1))
    nb["cells"][-1]["cell_type"] = "bogus"
    path = tmp_path / "bad.ipynb"
    path.write_text(as_text(nb))
    spill = SpillStore(tmp_path / "spill")
    with pytest.raises(InvalidNotebook):
        read_capped(path, spill, cap_bytes=CAP, budget_bytes=BUDGET)
    assert not any((tmp_path / "spill").glob("snapshot-*"))


def test_an_invalid_line_deep_inside_an_output_fails_the_read_not_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep.ipynb"
    write_notebook(path, big_notebook(random.Random(2)))
    text = path.read_text().replace('"c3:00200 ', '7, "c3:00200 ', 1)  # a number among lines
    path.write_text(text)
    spill = SpillStore(tmp_path / "spill")
    capped, _ = read_capped(path, spill, cap_bytes=CAP, budget_bytes=BUDGET)
    with pytest.raises(InvalidNotebook):
        merge_spilled(capped, spill)
    assert path.read_text() == text


def test_unused_snapshots_are_collected(big_file: Path, tmp_path: Path) -> None:
    spill = SpillStore(tmp_path / "spill")
    nb, _ = read_capped(big_file, spill, cap_bytes=CAP, budget_bytes=BUDGET)
    ids = {marker.output_id for _, marker in _stand_ins(nb)}
    spill.collect(ids)
    assert len(list((tmp_path / "spill").glob("snapshot-*"))) == 2
    assert merge_spilled(nb, spill) == read_notebook(big_file)[0]
    spill.collect(set())
    assert not list((tmp_path / "spill").iterdir())


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=10**7), max_size=60),
    budget=st.integers(min_value=1, max_value=10**8),
)
def test_output_allowance_shares_the_budget(sizes: list[int], budget: int) -> None:
    cap = 1_000_000
    allowance = output_allowance(sizes, budget, cap)
    assert 4096 <= allowance <= cap
    if 4096 < allowance < cap:
        # As much as fits: one byte more per output would overrun the budget.
        assert sum(min(s, allowance) for s in sizes) <= budget
        assert sum(min(s, allowance + 1) for s in sizes) > budget - len(sizes)
    if sum(sizes) <= budget:
        assert allowance == cap


class Options:
    autosave_delay = 5.0
    output_cap_bytes = CAP
    output_budget_bytes = BUDGET
    stream_coalesce_interval = 0.1


@pytest.mark.anyio
async def test_a_live_big_notebook_saves_the_file_unchanged_across_restarts(
    big_file: Path, tmp_path: Path
) -> None:
    original = _bytes(big_file)
    work = tmp_path / "work"
    doc = await LiveNotebook.load(big_file, work_dir=work, settings=Options())
    assert _stand_ins(dump_notebook(doc.notebook))
    await doc.save(force=True)
    await doc.aclose(save=False)
    assert _bytes(big_file) == original

    # A new server: the journal is replayed, the snapshot still serves the outputs.
    doc = await LiveNotebook.load(big_file, work_dir=work, settings=Options())
    try:
        assert _stand_ins(dump_notebook(doc.notebook))
        assert await doc.to_nbformat() == read_notebook(big_file)[0]
        await doc.save(force=True)
        assert _bytes(big_file) == original
    finally:
        await doc.aclose(save=False)
    await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_a_document_served_before_its_journal_exists_loses_no_early_edit(
    big_file: Path, tmp_path: Path
) -> None:
    # defer_journal: the server hands the document to clients at once and run() writes
    # the spill snapshot and the journal afterwards.
    work = tmp_path / "work"
    doc = await LiveNotebook.load(big_file, work_dir=work, settings=Options(), defer_journal=True)
    as_read = doc.full_update()
    doc.notebook.set_cell(1, source="typed before the journal was written")
    replica = new_ynotebook()
    replica.ydoc.apply_update(doc.full_update())
    assert doc.full_update() != as_read
    assert dump_notebook(replica) == dump_notebook(doc.notebook)

    async with anyio.create_task_group() as tg:
        await tg.start(doc.run)
        (output, marker), *_ = _stand_ins(dump_notebook(doc.notebook))
        page = await doc.read_output(marker.output_id, limit=200)  # waits for the snapshot
        assert page.text and output["text"].startswith(page.text)
        tg.cancel_scope.cancel()

    # A crash now (nothing saved, nothing closed): the journal has the early edit.
    restarted = await LiveNotebook.load(big_file, work_dir=work, settings=Options())
    try:
        assert restarted.dirty
        expected = read_notebook(big_file)[0]
        expected["cells"][1]["source"] = "typed before the journal was written"
        assert await restarted.to_nbformat() == expected
    finally:
        await restarted.aclose(save=False)
        await doc.aclose(save=False)
