"""Helpers for server-side execution tests: notebooks on disk, status polling."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import nbformat


def write_notebook(root: Path, name: str, *sources: str, kernel: str = "python3") -> list[str]:
    """Write a notebook of code cells; returns the cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, root / name)
    return [cell.id for cell in nb.cells]


def saved_stream_text(path: Path, index: int) -> str:
    """All stream text of cell ``index`` in the notebook file on disk."""
    nb = json.loads(path.read_text())
    out = []
    for output in nb["cells"][index]["outputs"]:
        if output["output_type"] == "stream":
            text = output["text"]
            out.append("".join(text) if isinstance(text, list) else text)
    return "".join(out)


async def until(check: Callable[[], Awaitable[Any]], within: float = 60.0) -> Any:
    """Poll ``check`` (an API read) until it returns something truthy."""
    with anyio.fail_after(within):
        while True:
            value = await check()
            if value:
                return value
            await anyio.sleep(0.1)  # polling an HTTP API: nothing to wait on


async def finished(client: httpx.AsyncClient, path: str, count: int) -> dict[str, Any]:
    """Wait until ``count`` cells ran and nothing is running or queued."""

    async def check() -> dict[str, Any] | None:
        status = (await client.get(f"/api/notebooks/{path}/status")).json()
        done = status["executed"] >= count and not status["running"] and not status["queue"]
        return status if done else None

    result: dict[str, Any] = await until(check)
    return result
