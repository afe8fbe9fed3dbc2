"""Fixtures for browser tests: the system Chromium driven by Playwright (never downloaded)."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adrastea.testing import CHROMIUM_ARGS, ServerProcess
from tests.conftest import missing

#: Screenshots of the main views land here (gitignored), for people to look at.
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless system Chromium; skipped (failed in CI) when it is not installed."""
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - a test dependency
        missing("playwright is not installed")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser profile (cookies included)."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        await ctx.close()


def rgb_png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An RGB PNG from ``height`` rows of ``3 * width`` bytes, made by hand (no imaging library)."""
    assert len(rows) == height and all(len(row) == 3 * width for row in rows)
    raw = b"".join(b"\x00" + row for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def notebook_url(server: ServerProcess, path: str) -> str:
    return f"{server.url}/notebooks/{path}?token={server.token}"


def write_notebook(root: Path, name: str, cells: list[dict[str, Any]]) -> Path:
    """Write an nbformat 4.5 notebook with ``cells`` (ids added) under ``root``."""
    full = []
    for index, cell in enumerate(cells):
        cell = {"id": f"cell-{index}", "metadata": {}, **cell}
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        full.append(cell)
    nb = {
        "cells": full,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = root / name
    path.write_text(json.dumps(nb))
    return path


async def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
