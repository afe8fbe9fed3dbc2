"""The browser UI under load, in headless Chromium: a 2,000-cell notebook and a 200,000-line cell.

Two measurements against one ``adrastea serve`` started here (Playwright drives
the system Chromium, ``chromium`` on PATH; no browser is downloaded):

- **open**: a notebook of ``--cells`` code cells (2,000), each with a 3-line
  stream and an ``execute_result`` (text and HTML), plus a markdown cell with
  math every 10 cells.  Time to interactive = from ``page.goto`` until a key
  typed into the first cell shows in its editor (the page has synced the
  document and answers input).  Round 1 is *cold* (the server loads the file
  for the first time); later rounds are *warm* (the document is live).  The
  in-page marks ``adrastea:synced`` and ``adrastea:cells-end`` (ms since
  navigation start) and the page's DOM node count are reported too.
- **flood**: a cell printing ``--lines`` lines (200,000) is run from the page;
  timed from the click until the tail line shows, with the page's DOM node
  count at the end (bounded: the document keeps head and tail of a huge
  stream, the page shows at most 500 lines of each) and the longest gap
  between animation frames while the output streamed in (responsiveness).

Goals: warm time to interactive ≤ 2 s; flood DOM ≤ 5,000 nodes, head and tail
visible.

    python bench/ui_large_notebook.py
    python bench/ui_large_notebook.py --cells 500 --rounds 2 --lines 50000    # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h

from adrastea.testing import CHROMIUM_ARGS

TTI_GOAL = 2.0  # seconds, warm
NODES_GOAL = 5_000
LIMIT_MS = 300_000
FRAME_PROBE = """() => {
  window.__gaps = []; let last = performance.now();
  const step = (t) => {
    window.__gaps.push(t - last); last = t;
    if (!window.__stop) requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}"""


def write_notebook(path: Path, cells: list[dict[str, Any]]) -> int:
    for index, cell in enumerate(cells):
        cell.setdefault("id", f"c{index}")
        cell.setdefault("metadata", {})
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    data = json.dumps(nb, indent=1)
    path.write_text(data)
    return len(data)


def large_cells(count: int) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    for i in range(count):
        cells.append(
            {
                "cell_type": "code",
                "source": f"x{i} = {i}\nfor j in range(3):\n    print(x{i} * j)\nx{i}",
                "execution_count": i + 1,
                "outputs": [
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": "".join(f"{i * j}\n" for j in range(3)),
                    },
                    {
                        "output_type": "execute_result",
                        "execution_count": i + 1,
                        "metadata": {},
                        "data": {"text/plain": str(i), "text/html": f"<b>{i}</b>"},
                    },
                ],
            }
        )
        if i % 10 == 0:
            cells.append({"cell_type": "markdown", "source": f"## Part {i}\n\nWith $x_{{{i}}}^2$."})
    return cells


async def measure_open(page: Any, url: str, rounds: int) -> list[dict[str, float]]:
    samples = []
    for round_ in range(rounds):
        start = time.perf_counter()
        await page.goto(url)
        await page.locator('[data-synced="true"]').wait_for(timeout=LIMIT_MS)
        editor = page.locator(".cell .cm-content").first
        await editor.click()
        await page.keyboard.type("#")
        await page.locator(".cell .cm-content", has_text="#").first.wait_for(timeout=LIMIT_MS)
        tti = time.perf_counter() - start
        marks = dict(
            await page.evaluate(
                "performance.getEntriesByType('mark').map(m => [m.name, m.startTime])"
            )
        )
        nodes = await page.evaluate("document.getElementsByTagName('*').length")
        await page.keyboard.press("Backspace")
        sample = {
            "tti": tti,
            "synced": marks.get("adrastea:synced", float("nan")) / 1000,
            "built": marks.get("adrastea:cells-end", float("nan")) / 1000,
            "nodes": nodes,
        }
        h.log(f"open round {round_ + 1}: {json.dumps({k: round(v, 3) for k, v in sample.items()})}")
        samples.append(sample)
    return samples


async def measure_flood(page: Any, url: str, lines: int) -> dict[str, Any]:
    await page.goto(url)
    await page.locator('[data-synced="true"]').wait_for(timeout=LIMIT_MS)
    await page.locator(".cell").first.click()
    await page.evaluate(FRAME_PROBE)
    start = time.perf_counter()
    await page.get_by_role("button", name="Run cell").click()
    output = page.locator(".cell").first.locator(".output-stream")
    await page.locator(".cell").first.locator(".prompt", has_text="[1]:").wait_for(timeout=LIMIT_MS)
    await output.get_by_text(f"{lines - 1}", exact=False).last.wait_for(timeout=LIMIT_MS)
    wall = time.perf_counter() - start
    await page.evaluate("window.__stop = true")
    gaps = await page.evaluate("window.__gaps")
    text = await output.first.locator("pre").first.inner_text()
    nodes = await page.evaluate("document.getElementsByTagName('*').length")
    output_nodes = await page.evaluate(
        "(() => { const w = document.createTreeWalker(document.querySelector('.outputs'));"
        " let n = 0; while (w.nextNode()) n++; return n; })()"
    )
    return {
        "wall": wall,
        "nodes": nodes,
        "output_nodes": output_nodes,
        "head": text.startswith("0\n1\n2\n"),
        "tail": text.rstrip().endswith(str(lines - 1)),
        "longest_frame_ms": max(gaps) if gaps else float("nan"),
        "p50_frame_ms": statistics.median(gaps) if gaps else float("nan"),
    }


async def run(
    args: argparse.Namespace, root: Path
) -> tuple[list[dict[str, float]], dict[str, Any]]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        h.die("chromium is not on PATH (apt-get install chromium)")
    with h.adrastea_server(root, "bench-token") as target:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                await page.goto(f"{target.url}/tree/?token={target.token}")
                h.log(f"opening a {args.cells}-cell notebook, {args.rounds} rounds")
                opens = await measure_open(page, f"{target.url}/notebooks/large.ipynb", args.rounds)
                h.log(f"running a cell that prints {args.lines:,} lines")
                flood = await measure_flood(page, f"{target.url}/notebooks/flood.ipynb", args.lines)
            finally:
                await browser.close()
    return opens, flood


def report(
    args: argparse.Namespace, size: int, opens: list[dict[str, float]], flood: dict[str, Any]
) -> str:
    warm = opens[1:] or opens
    tti = statistics.median(s["tti"] for s in warm)
    rows = [
        [
            "cold" if i == 0 else f"warm {i}",
            f"{s['tti']:.2f}",
            f"{s['synced']:.2f}",
            f"{s['built']:.2f}",
            f"{int(s['nodes']):,}",
        ]
        for i, s in enumerate(opens)
    ]
    lines = [
        f"### ui_large_notebook\n\n{h.environment_line()}; Chromium headless, 1280x900.\n",
        f"**open**: {args.cells:,} code cells + {(args.cells + 9) // 10} markdown cells, "
        f"{size / 1e6:.1f} MB `.ipynb`. Seconds from `page.goto`.\n",
        h.format_table(
            ["round", "time to interactive s", "synced (in page) s", "cells built s", "DOM nodes"],
            rows,
        ),
        "",
        f"**flood**: one cell printing {args.lines:,} lines, run from the page.\n",
        h.format_table(
            [
                "wall s",
                "DOM nodes (page)",
                "nodes in outputs",
                "head shown",
                "tail shown",
                "longest frame ms",
                "p50 frame ms",
            ],
            [
                [
                    f"{flood['wall']:.2f}",
                    f"{flood['nodes']:,}",
                    f"{flood['output_nodes']:,}",
                    "yes" if flood["head"] else "NO",
                    "yes" if flood["tail"] else "NO",
                    f"{flood['longest_frame_ms']:.0f}",
                    f"{flood['p50_frame_ms']:.0f}",
                ]
            ],
        ),
        "",
        f"- warm time to interactive p50 {tti:.2f} s (goal <= {TTI_GOAL:.0f} s): "
        + ("met" if tti <= TTI_GOAL else "MISSED"),
        f"- flood page DOM {flood['nodes']:,} nodes (goal <= {NODES_GOAL:,}), head and tail shown: "
        + ("met" if flood["nodes"] <= NODES_GOAL and flood["head"] and flood["tail"] else "MISSED"),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000, help="code cells in the large notebook")
    parser.add_argument("--rounds", type=int, default=5, help="opens (the first is cold)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines the flood cell prints")
    args = parser.parse_args()
    if not 1 <= args.cells <= 20_000 or not 1 <= args.rounds <= 20 or not 10 <= args.lines <= 10**7:
        h.die("need 1 <= --cells <= 20000, 1 <= --rounds <= 20, 10 <= --lines <= 10**7")
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        root = Path(tmp)
        size = write_notebook(root / "large.ipynb", large_cells(args.cells))
        write_notebook(
            root / "flood.ipynb",
            [
                {
                    "cell_type": "code",
                    "source": f"for i in range({args.lines}):\n    print(i)",
                    "outputs": [],
                    "execution_count": None,
                }
            ],
        )
        h.log(f"wrote large.ipynb: {size / 1e6:.1f} MB")
        opens, flood = asyncio.run(run(args, root))
    print(report(args, size, opens, flood))
    return 0


if __name__ == "__main__":
    sys.exit(main())
