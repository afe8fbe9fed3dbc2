"""The browser notebook in a real headless Chromium, against a real server and kernel."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from adrastea.testing import ServerProcess, connect_document
from tests.ui.conftest import notebook_url, rgb_png, screenshot, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.slow]


def _png(width: int = 24, height: int = 16) -> bytes:
    """A small solid-colour PNG."""
    return rgb_png(width, height, [b"\x20\x80\xe0" * width] * height)


async def _type_in_cell(page: Any, index: int, text: str) -> None:
    editor = page.locator(".cell").nth(index).locator(".cm-content")
    await editor.click()
    await page.keyboard.type(text)


async def test_create_notebook_type_run_and_see_output(server: ServerProcess, context: Any) -> None:
    page = await context.new_page()
    await page.goto(f"{server.url}/?token={server.token}")
    await page.get_by_role("button", name="New notebook").wait_for()
    assert "token=" not in page.url
    await screenshot(page, "file-browser-empty")
    await page.get_by_role("button", name="New notebook").click()
    await page.wait_for_url(re.compile(r"/notebooks/.*\.ipynb$"))
    await page.locator(".cell .cm-content").first.wait_for()
    await _type_in_cell(page, 0, "print(6 * 7)")
    await page.keyboard.press("Shift+Enter")
    output = page.locator(".cell").first.locator(".output-stream")
    await output.get_by_text("42").wait_for()
    await page.locator(".cell").first.locator(".prompt", has_text="[1]:").wait_for()
    await page.get_by_label("kernel status").get_by_text("idle").wait_for()
    await screenshot(page, "notebook-first-run")

    # Back in the file browser, the notebook is listed.
    await page.goto(f"{server.url}/tree/")
    await page.get_by_role("link", name=re.compile(r"Untitled.*\.ipynb")).first.wait_for()
    await screenshot(page, "file-browser")


async def test_markdown_math_and_image_output(server: ServerProcess, context: Any) -> None:
    png = base64.b64encode(_png()).decode()
    write_notebook(
        server.root,
        "rich.ipynb",
        [
            {"cell_type": "markdown", "source": "# Title\n\nEuler: $e^{i\\pi}+1=0$"},
            {
                "cell_type": "code",
                "source": (
                    "from IPython.display import Image, display\nimport base64\n"
                    f"display(Image(data=base64.b64decode('{png}')))"
                ),
            },
            {"cell_type": "code", "source": "print('\\x1b[31mred\\x1b[0m text')\n{'a': [1, 2]}"},
        ],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "rich.ipynb"))
    await page.locator(".cell .katex").first.wait_for()
    tex = await page.locator(".cell .katex-mathml annotation").first.text_content()
    assert tex == "e^{i\\pi}+1=0"
    await page.locator(".cell").nth(1).click()
    await page.get_by_role("button", name="Run cell").click()
    await page.get_by_role("button", name="Run cell").click()
    image = page.locator('.cell .output img[src^="data:image/png"]')
    await image.wait_for()
    await page.wait_for_function("() => document.querySelector('.output img')?.naturalWidth === 24")
    red = page.locator(".output-stream span", has_text="red")
    await red.wait_for()
    assert "ansi-red" in (await red.get_attribute("style") or "")
    await screenshot(page, "notebook-outputs")
    await page.emulate_media(color_scheme="dark")
    await screenshot(page, "notebook-outputs-dark")


async def test_outputs_made_while_the_page_was_closed_are_there(
    server: ServerProcess, context: Any
) -> None:
    write_notebook(
        server.root,
        "long.ipynb",
        [
            {
                "cell_type": "code",
                "source": "import time\nfor i in range(20):\n    print('tick', i, flush=True)\n"
                "    time.sleep(1)",
            }
        ],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "long.ipynb"))
    await page.locator(".cell .cm-content").first.wait_for()
    await page.locator(".cell").first.click()
    await page.get_by_role("button", name="Run cell").click()
    await page.locator(".output-stream", has_text="tick 1").wait_for()
    await page.close()

    # Nobody watches for about ten seconds: wait on the server's document itself.
    url = server.ws_url("/api/documents/long.ipynb")
    async with connect_document(url, server.headers) as client:
        await client.wait_for(lambda nb: "tick 11" in _stream(nb), within=30)

    page = await context.new_page()
    await page.goto(notebook_url(server, "long.ipynb"))
    stream = page.locator(".output-stream").first
    await stream.get_by_text("tick 11").wait_for()
    await stream.get_by_text("tick 19").wait_for(timeout=30_000)
    assert "tick 0" in await stream.inner_text()
    await page.locator(".cell .prompt", has_text="[1]:").wait_for()


def _stream(nb: Any) -> str:
    cells = nb.ycells
    if not len(cells):
        return ""
    outputs = cells[0].get("outputs")
    return "".join(str(o.get("text", "")) for o in outputs) if outputs is not None else ""


async def test_two_pages_see_each_others_edits(server: ServerProcess, context: Any) -> None:
    write_notebook(server.root, "shared.ipynb", [{"cell_type": "code", "source": "x = 1"}])
    first = await context.new_page()
    second = await context.new_page()
    await first.goto(notebook_url(server, "shared.ipynb"))
    await second.goto(notebook_url(server, "shared.ipynb"))
    await first.locator(".cell .cm-content").first.wait_for()
    await second.locator(".cell .cm-content").first.wait_for()
    editor = first.locator(".cell .cm-content").first
    await editor.click()
    await first.keyboard.press("End")
    await first.keyboard.type("  # edited in the first page")
    await second.locator(".cell .cm-content", has_text="edited in the first page").wait_for()
    # The other page shows who is there: their cursor and their selected cell.
    await second.locator(".cm-ySelectionCaret").first.wait_for()
    await second.locator(".cell .peer").first.wait_for()


async def test_tab_completion_and_shift_tab_inspection(server: ServerProcess, context: Any) -> None:
    write_notebook(
        server.root,
        "complete.ipynb",
        [{"cell_type": "code", "source": "1 + 1"}, {"cell_type": "code", "source": ""}],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "complete.ipynb"))
    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("Control+Enter")
    await page.locator(".cell .prompt", has_text="[1]:").wait_for()
    await page.get_by_label("kernel status").get_by_text("idle").wait_for()
    await _type_in_cell(page, 1, "pri")
    await page.keyboard.press("Tab")
    popup = page.locator(".cm-tooltip-autocomplete")
    await popup.get_by_text("print", exact=True).wait_for()
    await screenshot(page, "notebook-completion")

    # Shift-Tab on a name shows its signature and docstring.
    await page.keyboard.press("Escape")
    await popup.wait_for(state="detached")
    await page.keyboard.type("nt")
    await page.keyboard.press("Shift+Tab")
    tooltip = page.get_by_role("tooltip")
    await tooltip.get_by_text("Prints the values to a stream").wait_for()
    assert "print(" in await tooltip.inner_text()
    await screenshot(page, "notebook-inspection")
    await page.keyboard.press("Escape")
    await tooltip.wait_for(state="detached")


XSS_HTML = [
    "<script>window.__xss = 'script'</script><b>bold html</b>",
    "<img src=x onerror=\"window.__xss = 'onerror'\">",
    "<a id=jslink href=\"javascript:window.__xss='href'\">click me</a>",
    "<svg><script>window.__xss = 'svg-script'</script>"
    "<circle r=5 onload=\"window.__xss='svg'\"/></svg>",
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
    "<details open ontoggle=\"alert('toggle')\">x</details>",
]


async def test_xss_payloads_in_outputs_and_markdown_do_not_run(
    server: ServerProcess, context: Any
) -> None:
    outputs = [
        {"output_type": "display_data", "data": {"text/html": html}, "metadata": {}}
        for html in XSS_HTML
    ]
    outputs.append(
        {
            "output_type": "display_data",
            "data": {
                "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\"alert(1)\">"
                "<script>window.__xss='svg-doc'</script><rect width='9' height='9'/></svg>"
            },
            "metadata": {},
        }
    )
    outputs.append(
        {
            "output_type": "display_data",
            "data": {
                "text/markdown": "[md link](javascript:alert(1)) <img src=x onerror=alert(2)>"
            },
            "metadata": {},
        }
    )
    write_notebook(
        server.root,
        "xss.ipynb",
        [
            {
                "cell_type": "markdown",
                "source": "Hi <script>window.__xss='md'</script> <img src=y onerror=\"alert(3)\">"
                " [mdlink](javascript:window.__xss='mdhref')",
            },
            {"cell_type": "code", "source": "# outputs from elsewhere", "outputs": outputs},
        ],
    )
    page = await context.new_page()
    dialogs: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await page.goto(notebook_url(server, "xss.ipynb"))
    await page.locator(".output-html b", has_text="bold html").wait_for()
    await page.locator(".output-svg svg").wait_for()
    await page.locator(".cell .rendered", has_text="Hi").wait_for()
    await page.locator("#jslink").click()
    await page.locator(".rendered a", has_text="mdlink").click()
    await page.locator(".output a", has_text="md link").click()
    flag = await page.evaluate("() => window.__xss ?? null")
    assert flag is None
    assert dialogs == []
    handlers = await page.evaluate(
        "() => [...document.querySelectorAll('.cells *')].filter(e => [...e.attributes]"
        ".some(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value))).length"
    )
    assert handlers == 0
    assert await page.locator(".cells script, .cells iframe").count() == 0


async def test_jupyter_keys_in_command_and_edit_mode(server: ServerProcess, context: Any) -> None:
    write_notebook(server.root, "keys.ipynb", [{"cell_type": "code", "source": "a = 1"}])
    page = await context.new_page()
    await page.goto(notebook_url(server, "keys.ipynb"))
    cells = page.locator(".cell")
    await cells.first.locator(".cm-content").click()
    await page.keyboard.press("Escape")  # command mode
    await page.keyboard.press("b")  # new cell below, in edit mode
    await cells.nth(1).locator(".cm-content").wait_for()
    await page.keyboard.type("# A heading")
    await page.keyboard.press("Escape")
    await page.keyboard.press("m")  # to markdown
    await page.keyboard.press("Shift+Enter")  # render it, go on to a new cell
    await cells.nth(1).locator(".rendered h1", has_text="A heading").wait_for()
    assert await cells.count() == 3
    await page.keyboard.press("Escape")
    await page.keyboard.press("k")
    await page.keyboard.press("d")
    await page.keyboard.press("d")  # delete the markdown cell
    await page.wait_for_function("() => document.querySelectorAll('.cell').length === 2")
    assert await page.locator(".cell .rendered h1").count() == 0
    await page.keyboard.press("z")  # undo the deletion
    await cells.nth(1).locator(".rendered h1", has_text="A heading").wait_for()
    await page.keyboard.press("a")  # insert above, edit mode
    await page.keyboard.type("print('typed')")
    await page.keyboard.press("Control+Enter")
    await page.locator(".cell.active .output-stream", has_text="typed").wait_for()
    assert await cells.count() == 4


async def test_input_prompt_is_answered_from_the_page(server: ServerProcess, context: Any) -> None:
    write_notebook(
        server.root,
        "ask.ipynb",
        [{"cell_type": "code", "source": "name = input('Name? ')\nprint('hello', name)"}],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "ask.ipynb"))
    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("Control+Enter")
    field = page.get_by_label("Name?")
    await field.wait_for()
    await field.fill("Ada")
    await field.press("Enter")
    await page.locator(".output-stream", has_text="hello Ada").wait_for()


async def test_file_browser_manages_files_and_the_editor_saves(
    server: ServerProcess, context: Any
) -> None:
    folder = server.root / "project"
    folder.mkdir()
    (folder / "job.sh").write_text("#!/bin/bash\necho hi\n")
    page = await context.new_page()
    answers = iter(["data"])

    async def on_dialog(dialog: Any) -> None:
        if dialog.type == "prompt":
            await dialog.accept(next(answers))
        else:
            await dialog.accept()

    page.on("dialog", on_dialog)
    await page.goto(f"{server.url}/tree/project?token={server.token}")
    await page.get_by_role("link", name="job.sh").wait_for()
    await page.get_by_role("button", name="New folder").click()
    await page.get_by_label(re.compile("select Untitled Folder")).check()
    await page.get_by_role("button", name="Rename").click()
    await page.get_by_role("link", name="data", exact=True).wait_for()
    assert (folder / "data").is_dir()
    await page.get_by_label("select data").check()
    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("link", name="data", exact=True).wait_for(state="detached")
    assert not (folder / "data").exists()
    await page.get_by_label("upload files").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"uploaded\n"}]
    )
    await page.get_by_role("link", name="notes.txt").wait_for()
    assert (folder / "notes.txt").read_text() == "uploaded\n"
    await page.get_by_role("navigation", name="breadcrumbs").get_by_text("project").wait_for()
    await screenshot(page, "file-browser-folder")

    await page.get_by_role("link", name="job.sh").click()
    await page.wait_for_url(re.compile(r"/edit/project/job\.sh$"))
    editor = page.locator(".editor-host .cm-content")
    await editor.get_by_text("echo hi").wait_for()
    await editor.click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type("echo saved\n")
    await page.keyboard.press("Control+s")
    await page.get_by_label("save status").get_by_text("saved", exact=True).wait_for()
    await screenshot(page, "text-editor")
    assert (folder / "job.sh").read_text().endswith("echo saved\n")


async def test_running_mark_interrupt_and_restart(server: ServerProcess, context: Any) -> None:
    write_notebook(
        server.root,
        "stop.ipynb",
        [
            {
                "cell_type": "code",
                "source": "import time\nprint('start', flush=True)\ntime.sleep(60)",
            }
        ],
    )
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(notebook_url(server, "stop.ipynb"))
    cell = page.locator(".cell").first
    await cell.locator(".cm-content").click()
    await page.keyboard.press("Control+Enter")
    await cell.locator(".output-stream", has_text="start").wait_for()
    await cell.locator(".prompt", has_text="[*]:").wait_for()
    await cell.locator(".timer", has_text=re.compile(r"\d(\.\d)? s$")).wait_for()
    await page.get_by_label("kernel status").get_by_text("busy").wait_for()
    # A page opened later counts from when the cell started on the server, not from its opening.
    await cell.locator(".timer", has_text=re.compile(r"^([2-9]|\d\d)\.\d s$")).wait_for()
    later = await context.new_page()
    await later.goto(notebook_url(server, "stop.ipynb"))
    await later.get_by_label("kernel status").get_by_text("busy").wait_for()
    timer = await later.locator(".cell .timer").first.inner_text()
    assert re.fullmatch(r"([2-9]|\d\d)\.\d s", timer), timer
    await later.close()
    await page.get_by_role("button", name="Interrupt kernel").click()
    await cell.locator(".output-error", has_text="KeyboardInterrupt").wait_for()
    await cell.locator(".prompt", has_text="[1]:").wait_for()
    await page.get_by_role("button", name="Restart kernel", exact=True).click()
    await page.get_by_text("Kernel restarted").wait_for()
    await page.get_by_label("kernel status").get_by_text("idle").wait_for()


async def test_connection_banner_and_cell_drag(server: ServerProcess, context: Any) -> None:
    write_notebook(
        server.root,
        "drop.ipynb",
        [{"cell_type": "code", "source": "first"}, {"cell_type": "code", "source": "second"}],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "drop.ipynb"))
    await page.get_by_label("connection status").get_by_text("connected").wait_for()
    # The socket drops (as on a network blip): a banner says so, then that it is back.
    await page.evaluate("window.adrastea.provider.ws.close()")
    banner = page.get_by_role("alert").filter(has_text="Connection to the server lost")
    await banner.wait_for()
    await page.get_by_role("alert").filter(has_text="Reconnected").wait_for()
    await page.get_by_label("connection status").get_by_text("connected").wait_for()

    cells = page.locator(".cell")
    await cells.nth(1).locator(".gutter").drag_to(cells.nth(0))
    await cells.nth(0).locator(".cm-content", has_text="second").wait_for()
    await cells.nth(1).locator(".cm-content", has_text="first").wait_for()


async def test_restart_in_another_environment(server: ServerProcess, context: Any) -> None:
    write_notebook(server.root, "env.ipynb", [{"cell_type": "code", "source": "echo $0"}])
    page = await context.new_page()
    await page.goto(notebook_url(server, "env.ipynb"))
    # CodeMirror names the language it highlights with (data-language).
    await page.locator('.cell .cm-content[data-language="python"]').wait_for()
    picker = page.get_by_label("environment")
    await picker.locator("option", has_text="bash").wait_for(state="attached")
    await picker.select_option("bash")
    await page.get_by_role("button", name="Restart in…").click()
    await page.get_by_text("Kernel restarted in bash").wait_for()
    # The editor follows the kernel's language at once, without a reload.
    await page.locator('.cell .cm-content[data-language="shell"]').wait_for()
    await page.locator(".cell .cm-line span", has_text="$0").wait_for()  # highlighted as bash
    await page.locator(".cell .cm-content").first.click()
    await page.keyboard.press("Control+Enter")
    await page.locator(".output-stream", has_text="bash").wait_for()


async def test_huge_stream_shows_head_and_tail_and_loads_more(
    server: ServerProcess, context: Any
) -> None:
    write_notebook(
        server.root,
        "flood.ipynb",
        [{"cell_type": "code", "source": "for i in range(200_000):\n    print(i)"}],
    )
    page = await context.new_page()
    await page.goto(notebook_url(server, "flood.ipynb"))
    cell = page.locator(".cell").first
    await cell.locator(".cm-content").click()
    await page.keyboard.press("Control+Enter")
    await cell.locator(".prompt", has_text="[1]:").wait_for(timeout=60_000)
    stream = cell.locator(".output-stream pre").first
    await stream.get_by_text("199999").wait_for()
    text = await stream.inner_text()
    assert text.startswith("0\n1\n2\n")
    assert "lines not shown here" in text
    nodes = await page.evaluate("document.getElementsByTagName('*').length")
    assert nodes < 1000
    await cell.get_by_text("Large output").wait_for()
    await screenshot(page, "notebook-large-output")
    await cell.get_by_role("button", name="Load the full output page by page").click()
    pages = cell.locator(".spill-pages")
    await pages.get_by_text("100000").wait_for()
    await cell.get_by_role("button", name=re.compile(r"Load more|Whole output loaded")).wait_for()
