"""Helpers for the documents tests: notebook files, event collection, memory use."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import nbformat
import pytest

from adrastea.documents import DocumentEvent, parse_notebook
from adrastea.errors import InvalidNotebook

from .notebooks import as_text, rich_notebook


@pytest.fixture(scope="session", autouse=True)
def _compiled_validators() -> None:
    """Compile the schema validators once, so no single test pays for it."""
    for minor in (4, 5):
        nb = nbformat.from_dict(parse_notebook(as_text(rich_notebook(minor))))
        nbformat.validate(nb)
        nbformat.writes(nb)
    bad = rich_notebook()
    bad["cells"][2]["outputs"][0]["bogus"] = True
    with pytest.raises(InvalidNotebook):  # compiles the per-cell validators that explain errors
        parse_notebook(as_text(bad))


@pytest.fixture
def nb_path(tmp_path: Path) -> Path:
    """A rich v4.5 notebook on disk."""
    path = tmp_path / "rich.ipynb"
    path.write_text(as_text(rich_notebook()), encoding="utf-8")
    return path


class Events:
    """Collects a live document's events; tests wait on them instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[DocumentEvent] = []
        self._arrived: anyio.Event | None = None

    def __call__(self, event: DocumentEvent) -> None:
        self.items.append(event)
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = None

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.items if isinstance(event, kind)]

    async def wait_for(self, kind: type[Any], count: int = 1) -> Any:
        """Wait (at most 10 s of real time, as a safety net) for the ``count``-th ``kind``."""
        with anyio.fail_after(10):
            while len(self.of(kind)) < count:
                if self._arrived is None:
                    self._arrived = anyio.Event()
                await self._arrived.wait()
        return self.of(kind)[count - 1]


@pytest.fixture
def events() -> Events:
    return Events()


async def until(predicate: Callable[[], bool], rounds: int = 1000) -> None:
    """Let other tasks run until ``predicate()`` holds (no time passes)."""
    for _ in range(rounds):
        if predicate():
            return
        await anyio.lowlevel.checkpoint()
    raise AssertionError("condition never became true")


def rss_bytes() -> int:
    """Resident memory of this process, from /proc/self/statm."""
    fields = Path("/proc/self/statm").read_text(encoding="ascii").split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
