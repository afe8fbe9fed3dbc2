"""Notebook commands in a real headless Chromium: files, cell editing keys, rich outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import nbformat
import pytest

from adrastea.testing import ServerProcess
from tests.ui.conftest import notebook_url, screenshot, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.slow]

#: The text of every cell as the page shows it (editor, or its placeholder before mounting).
SOURCES_JS = """() => [...document.querySelectorAll('.cell')].map(cell => {
    const editor = cell.querySelector('.cm-content');
    if (editor) return [...editor.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n');
    return cell.querySelector('.cm-placeholder-source')?.textContent ?? '';
})"""


async def _wait_sources(page: Any, expected: list[str]) -> None:
    """Wait until the cells show exactly ``expected``, in order."""
    await page.wait_for_function(
        f"expected => JSON.stringify(({SOURCES_JS})()) === JSON.stringify(expected)", arg=expected
    )


def _sources_on_disk(path: Path) -> list[str]:
    return [
        "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for cell in json.loads(path.read_text())["cells"]
    ]


def _read_notebook(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


async def _menu(page: Any, menu: str, item: str) -> None:
    await page.get_by_label(menu, exact=True).select_option(label=item)


async def test_save_writes_the_file_and_rename_moves_it(
    server: ServerProcess, context: Any
) -> None:
    path = write_notebook(server.root, "draft.ipynb", [{"cell_type": "code", "source": "x = 1"}])
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept("final"))
    await page.goto(notebook_url(server, "draft.ipynb"))
    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("End")
    await page.keyboard.type("  # kept")
    await page.get_by_label("save status").get_by_text("unsaved changes").wait_for()
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.locator(".toast", has_text="Saved").wait_for()
    await page.get_by_label("save status").get_by_text("saved", exact=True).wait_for()
    assert _sources_on_disk(path) == ["x = 1  # kept"]

    await page.get_by_role("button", name="rename notebook").click()
    await page.wait_for_url(re.compile(r"/notebooks/final\.ipynb$"))
    await page.get_by_role("button", name="rename notebook").get_by_text("final.ipynb").wait_for()
    await _wait_sources(page, ["x = 1  # kept"])
    assert not path.exists()
    assert _sources_on_disk(server.root / "final.ipynb") == ["x = 1  # kept"]


async def test_checkpoint_create_and_restore(server: ServerProcess, context: Any) -> None:
    path = write_notebook(
        server.root, "cp.ipynb", [{"cell_type": "code", "source": "x = 'original'"}]
    )
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(notebook_url(server, "cp.ipynb"))
    await _wait_sources(page, ["x = 'original'"])
    await _menu(page, "File…", "Create checkpoint")
    await page.locator(".toast", has_text="Checkpoint created").wait_for()

    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("End")
    await page.keyboard.type("  # changed")
    save_status = page.get_by_label("save status")
    await save_status.get_by_text("unsaved changes").wait_for()
    await page.keyboard.press("Control+s")
    await save_status.get_by_text("saved", exact=True).wait_for()
    assert _sources_on_disk(path) == ["x = 'original'  # changed"]

    async with page.expect_navigation():
        await _menu(page, "File…", "Restore checkpoint…")
    await _wait_sources(page, ["x = 'original'"])
    assert _sources_on_disk(path) == ["x = 'original'"]


async def test_download_ipynb_has_the_outputs(server: ServerProcess, context: Any) -> None:
    write_notebook(server.root, "dl.ipynb", [{"cell_type": "code", "source": "print('shipped')"}])
    page = await context.new_page()
    await page.goto(notebook_url(server, "dl.ipynb"))
    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("Control+Enter")
    await page.locator(".output-stream", has_text="shipped").wait_for()
    await page.locator(".cell .prompt", has_text="[1]:").wait_for()
    async with page.expect_download() as info:
        await _menu(page, "File…", "Download .ipynb")
    download = await info.value
    assert download.suggested_filename == "dl.ipynb"
    nb = _read_notebook(Path(await download.path()))
    nbformat.validate(nb)
    (cell,) = nb.cells
    assert cell.source == "print('shipped')"
    assert cell.execution_count == 1
    assert [(o.output_type, o.text) for o in cell.outputs] == [("stream", "shipped\n")]


async def test_merge_split_cut_copy_and_paste_cells(server: ServerProcess, context: Any) -> None:
    write_notebook(
        server.root,
        "edit.ipynb",
        [
            {"cell_type": "code", "source": "one"},
            {"cell_type": "code", "source": "two"},
            {"cell_type": "code", "source": "three"},
        ],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "edit.ipynb"))
    await _wait_sources(page, ["one", "two", "three"])
    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("Escape")
    await page.keyboard.press("Shift+M")  # merge with the cell below
    await _wait_sources(page, ["one\ntwo", "three"])

    await page.keyboard.press("Enter")  # edit mode; split after "one"
    await page.keyboard.press("Control+Home")
    await page.keyboard.press("End")
    await page.keyboard.press("Control+Shift+Minus")
    await _wait_sources(page, ["one", "two", "three"])
    assert await page.locator(".cell.active .cm-content").inner_text() == "two"

    await page.keyboard.press("Escape")
    await page.keyboard.press("c")  # copy "two"
    await page.keyboard.press("j")
    await page.keyboard.press("v")  # paste below "three"
    await _wait_sources(page, ["one", "two", "three", "two"])
    await page.keyboard.press("k")
    await page.keyboard.press("k")
    await page.keyboard.press("k")
    await page.keyboard.press("x")  # cut "one"
    await _wait_sources(page, ["two", "three", "two"])
    await page.keyboard.press("j")
    await page.keyboard.press("v")  # paste it below "three"
    await _wait_sources(page, ["two", "three", "one", "two"])
    assert await page.locator(".cell.active .cm-content").inner_text() == "one"
    await page.keyboard.press("Shift+V")  # and above the pasted one
    await _wait_sources(page, ["two", "three", "one", "one", "two"])


async def test_json_tree_and_latex_outputs(server: ServerProcess, context: Any) -> None:
    value = {"name": "adrastea", "nested": {"deep": [1, 2, 3]}, "ok": True}
    outputs = [
        {
            "output_type": "display_data",
            "data": {"application/json": value, "text/plain": "<JSON>"},
            "metadata": {},
        },
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/latex": "$$\\frac{a}{b} + \\sqrt{c}$$", "text/plain": "a/b"},
            "metadata": {},
        },
    ]
    write_notebook(
        server.root,
        "mime.ipynb",
        [{"cell_type": "code", "source": "# rich", "outputs": outputs, "execution_count": 1}],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "mime.ipynb"))
    tree = page.locator(".output .json-tree")
    await tree.get_by_text('"adrastea"').wait_for()
    await tree.get_by_text("true", exact=True).wait_for()
    keys = await tree.locator(
        ".json-node > .json-leaf > .json-key, .json-node > details > summary > .json-key"
    ).all_inner_texts()
    assert keys == ["name: ", "nested: ", "ok: "]  # sorted, as in the saved file
    nested = tree.locator("details", has=page.locator(":scope > summary", has_text="nested"))
    assert not await nested.get_attribute("open")
    deep = tree.get_by_text("deep:")
    assert not await deep.is_visible()
    await nested.locator(":scope > summary").click()
    await deep.wait_for()
    await tree.get_by_text("Array(3)").wait_for()
    await nested.locator(":scope > summary").click()  # and folds again
    await deep.wait_for(state="hidden")

    math = page.locator(".output .katex-display")
    await math.wait_for()
    tex = await math.locator(".katex-mathml annotation").text_content()
    assert tex == "\\frac{a}{b} + \\sqrt{c}"
    assert await math.locator(".katex-html .mfrac").count() == 1
    await screenshot(page, "notebook-json-latex")


async def test_shift_j_k_select_cells_that_run_copy_cut_and_delete_together(
    server: ServerProcess, context: Any
) -> None:
    a, b, c, d = "print('a')", "print('b')", "print('c')", "d = 4"
    write_notebook(
        server.root, "multi.ipynb", [{"cell_type": "code", "source": s} for s in (a, b, c, d)]
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "multi.ipynb"))
    await _wait_sources(page, [a, b, c, d])
    cells = page.locator(".cell")
    selected = page.locator(".cell.selected")
    await cells.first.locator(".cm-content").click()
    await page.keyboard.press("Escape")
    await page.keyboard.press("Shift+J")
    await page.keyboard.press("Shift+ArrowDown")
    assert await selected.count() == 3
    await page.keyboard.press("Shift+K")  # shrinks back towards the anchor
    assert await selected.count() == 2
    await page.keyboard.press("Shift+J")
    await screenshot(page, "notebook-multi-select")

    await page.keyboard.press("Control+Enter")  # runs the three selected cells
    for index, letter in enumerate("abc"):
        await cells.nth(index).locator(".output-stream", has_text=letter).wait_for()
    await cells.nth(2).locator(".prompt", has_text="[3]:").wait_for()
    assert await cells.nth(3).locator(".output").count() == 0
    assert await selected.count() == 3

    await page.keyboard.press("c")  # copy the three
    await page.keyboard.press("j")  # a plain move collapses the selection
    assert await selected.count() == 0
    await page.keyboard.press("v")
    await _wait_sources(page, [a, b, c, d, a, b, c])
    await page.keyboard.press("Shift+K")
    await page.keyboard.press("Shift+K")
    await page.keyboard.press("d")
    await page.keyboard.press("d")  # delete the three pasted cells
    await _wait_sources(page, [a, b, c, d])
    await page.keyboard.press("Shift+K")
    await page.keyboard.press("x")  # cut "c" and "d"
    await _wait_sources(page, [a, b])
    await page.keyboard.press("v")
    await _wait_sources(page, [a, b, c, d])

    # Shift-click extends the selection too; Shift-M merges the selected cells.
    await cells.first.locator(".prompt").click()
    await cells.nth(2).locator(".cm-content").click(modifiers=["Shift"])
    assert await selected.count() == 3
    await page.keyboard.press("Shift+M")
    await _wait_sources(page, [f"{a}\n{b}\n{c}", d])


async def test_download_html_is_a_sanitised_page_of_the_notebook(
    server: ServerProcess, context: Any
) -> None:
    evil = '<b>bold</b><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    write_notebook(
        server.root,
        "page.ipynb",
        [
            {"cell_type": "markdown", "source": "# The title\n\nmath $x^2$"},
            {
                "cell_type": "code",
                "source": "print('shipped')",
                "execution_count": 3,
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "shipped\n"},
                    {
                        "output_type": "display_data",
                        "data": {"text/html": evil, "text/plain": "html"},
                        "metadata": {},
                    },
                ],
            },
        ],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "page.ipynb"))
    await page.locator(".output-stream", has_text="shipped").wait_for()
    async with page.expect_download() as info:
        await _menu(page, "File…", "Download as HTML")
    download = await info.value
    assert download.suggested_filename == "page.html"
    html = await anyio.Path(await download.path()).read_text()
    assert "The title</h1>" in html and "katex" in html  # markdown and math rendered
    assert "print('shipped')" in html and "In [3]:" in html and "shipped" in html
    assert "<b>bold</b>" in html
    assert "<script" not in html and "onerror" not in html and "pwned" not in html
