"""Huge outputs: bounded server memory, capped document, complete spill and file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from adrastea.testing import ServerProcess, connect_document
from tests.notebooks.conftest import finished, saved_stream_text, until, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MB = 1 << 20


def _rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def _doc_stream_bytes(notebook: Any, index: int) -> int:
    return sum(
        len(o["text"].encode())
        for o in notebook.get_cell(index)["outputs"]
        if o["output_type"] == "stream"
    )


@pytest.mark.parametrize(
    ("source", "expected", "budget"),
    [
        (
            "for i in range(1_000_000):\n    print(i)",
            "".join(f"{i}\n" for i in range(1_000_000)),
            100 * MB,
        ),
        # The 50 MB message is held once, in zmq's buffer, and decoded in
        # slices (the activity watcher is not even sent it).
        ("print('x' * 50_000_000)", "x" * 50_000_000 + "\n", 100 * MB),
    ],
    ids=["million-lines", "50MB-print"],
)
async def test_huge_output_is_capped_spilled_and_saved_whole(
    fresh_server: ServerProcess, source: str, expected: str, budget: int
) -> None:
    root = fresh_server.root
    write_notebook(root, "big.ipynb", source)
    async with httpx.AsyncClient(
        base_url=fresh_server.url, headers=fresh_server.headers, timeout=120
    ) as client:
        url = fresh_server.ws_url("/api/documents/big.ipynb")
        async with connect_document(url, fresh_server.headers):
            pass  # open the document first so the baseline includes it
        before = _rss(fresh_server.pid, "VmRSS")
        await client.post("/api/notebooks/big.ipynb/execute", json={"cells": "all"})
        await finished(client, "big.ipynb", 1)
        peak = _rss(fresh_server.pid, "VmHWM")
        assert peak - before < budget, f"server RSS grew by {(peak - before) / MB:.0f} MB"

        async with connect_document(url, fresh_server.headers) as doc:
            in_doc = _doc_stream_bytes(doc.notebook, 0)
            outputs = doc.notebook.get_cell(0)["outputs"]
        assert in_doc <= 1_100_000, "the document holds a capped output"
        assert "not shown" in json.dumps(outputs)
        marker = outputs[0]["metadata"]["adrastea"]
        # The spill holds all of it, served in pages.
        page = (
            await client.get(
                f"/api/notebooks/big.ipynb/outputs/{marker['output_id']}",
                params={"offset": 0, "limit": 1000},
            )
        ).json()
        assert page["total_bytes"] == len(expected)
        assert page["text"] == expected[:1000]

        # The saved file is complete: what nbclient would have recorded.
        await client.post("/api/notebooks/big.ipynb/save")
        await until(lambda: _ready(root / "big.ipynb", len(expected)))
        assert saved_stream_text(root / "big.ipynb", 0) == expected


async def _ready(path: Path, size: int) -> bool:
    return (await anyio.Path(path).stat()).st_size > size
