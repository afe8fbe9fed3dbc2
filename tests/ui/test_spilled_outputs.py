"""Rich outputs past the document's output budget still show as themselves in the browser."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adrastea.testing import ServerProcess
from tests.ui.conftest import notebook_url, rgb_png, screenshot, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.slow]

PLOTS = 12


def _noise_png(seed: int, width: int, height: int) -> bytes:
    """An RGB PNG of random pixels: distinct for each seed, and it does not compress."""
    rng = random.Random(seed)
    return rgb_png(width, height, [rng.randbytes(3 * width) for _ in range(height)])


@pytest.fixture
def budget_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose documents show at most 20 kB of output in all."""
    root = tmp_path / "root"
    root.mkdir()
    env = {"ADRASTEA_DOCUMENTS__OUTPUT_BUDGET_BYTES": "20000"}
    with ServerProcess(root, env=env) as proc:
        yield proc


async def test_plots_past_the_output_budget_render_as_images(
    budget_server: ServerProcess, context: Any
) -> None:
    pngs = [base64.b64encode(_noise_png(i, 110, 70 + 6 * i)).decode() for i in range(PLOTS)]
    assert all(30_000 <= len(png) <= 65_000 for png in pngs)
    filler = "\n\n".join(f"Notes, paragraph {n}." for n in range(30))
    cells: list[dict[str, Any]] = []
    for i, png in enumerate(pngs):
        cells.append({"cell_type": "markdown", "source": f"## Plot {i}\n\n{filler}"})
        cells.append(
            {
                "cell_type": "code",
                "source": f"plot({i})",
                "execution_count": i + 1,
                "outputs": [
                    {
                        "output_type": "display_data",
                        "data": {"image/png": png, "text/plain": f"<Figure {i}>"},
                        "metadata": {},
                    }
                ],
            }
        )
    write_notebook(budget_server.root, "plots.ipynb", cells)

    page = await context.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    await page.goto(notebook_url(budget_server, "plots.ipynb"))
    first = page.locator(".cell").nth(1).locator(".output img")
    await first.wait_for()
    # The whole output, byte for byte, not the document's stand-in.
    assert await first.get_attribute("src") == f"data:image/png;base64,{pngs[0]}"
    assert await first.get_attribute("alt") == "<Figure 0>"
    assert any("/outputs/" in url for url in fetched), "expected stand-ins, read from the server"
    natural = "() => document.querySelector('.output img')?.naturalWidth"
    await page.wait_for_function(f"{natural} === 110")

    # The last plot is far below: still a stand-in until it is scrolled to.
    last_cell = page.locator(".cell").nth(2 * PLOTS - 1)
    assert await last_cell.locator(".output img").count() == 0
    before = len(fetched)
    # Cells above grow as they render, so scroll to it until its plot is there.
    await page.wait_for_function(
        """(cell) => {
            cell.scrollIntoView({ block: "center" });
            return cell.querySelector(".output img") !== null;
        }""",
        arg=await last_cell.element_handle(),
        polling=250,
    )
    last = last_cell.locator(".output img")
    assert await last.get_attribute("src") == f"data:image/png;base64,{pngs[-1]}"
    await last_cell.locator(".output-spilled").wait_for(state="detached")
    assert any("/outputs/" in url for url in fetched[before:])
    await screenshot(page, "notebook-spilled-plots")

    text = await page.locator("body").inner_text()
    for raw in ("iVBORw0KGgo", '"output_type"', '"image/png"', "full output:"):
        assert raw not in text
