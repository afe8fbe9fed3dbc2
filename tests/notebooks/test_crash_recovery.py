"""A kill -9 of the server loses at most about a second; its kernel is re-adopted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from adrastea.testing import ServerProcess, connect_document
from tests.notebooks.conftest import finished, saved_stream_text, write_notebook

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CELL = "import time\nfor i in range(120):\n    print(i, flush=True)\n    time.sleep(0.1)"


def _lines(notebook: Any) -> list[str]:
    outputs = notebook.get_cell(0)["outputs"]
    text = "".join(o["text"] for o in outputs if o["output_type"] == "stream")
    return [line for line in text.splitlines() if line.isdigit()]


async def test_kill_9_then_restart_keeps_outputs_and_kernel(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root, "run.ipynb", CELL)
    first = ServerProcess(root).start()
    try:
        async with httpx.AsyncClient(base_url=first.url, headers=first.headers) as client:
            await client.post("/api/notebooks/run.ipynb/execute", json={"cells": "all"})
            url = first.ws_url("/api/documents/run.ipynb")
            async with connect_document(url, first.headers) as doc:
                await doc.wait_for(lambda nb: len(_lines(nb)) >= 40)
                seen = len(_lines(doc.notebook))
            status = (await client.get("/api/notebooks/run.ipynb/status")).json()
            kernel_id = status["kernel"]["id"]
            since = status["running_since"]
            assert since is not None
        first.kill()
    finally:
        first.kill()

    # The file holds what was printed up to about a second before the crash
    # (10 lines a second; allow for the autosave delay and a slow machine).
    on_disk = saved_stream_text(root / "run.ipynb", 0).splitlines()
    assert len(on_disk) >= seen - 25

    with ServerProcess(root) as second:
        async with httpx.AsyncClient(base_url=second.url, headers=second.headers) as client:
            status = (await client.get("/api/notebooks/run.ipynb/status")).json()
            assert status["kernel"]["id"] == kernel_id  # re-adopted, not restarted
            if status["running"] is not None:  # the cell still runs: since it first started
                assert status["running_since"] == since
            url = second.ws_url("/api/documents/run.ipynb")
            async with connect_document(url, second.headers) as doc:
                await doc.wait_for(lambda nb: "119" in _lines(nb), within=60)
                text = "".join(
                    o["text"] for o in doc.notebook.get_cell(0)["outputs"] if "text" in o
                )
            assert "the server restarted" in text  # the gap is marked, not hidden
            final = await finished(client, "run.ipynb", 1)
            assert final["last_error"] is None
