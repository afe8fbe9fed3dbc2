"""Headless execution of a whole notebook: ``adrastea run``.

The same ``NotebookEngine`` as the server runs the cells; the sink is a plain
notebook saved atomically after every cell, so a run killed by walltime
leaves a valid notebook holding every cell that finished, and ``resume``
can pick it up.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from adrastea.batch._sink import NotebookFileSink, dump_notebook, write_atomically
from adrastea.errors import BadRequest, InvalidNotebook
from adrastea.execution import CellResult, ManagerConnection, NotebookEngine

#: Metadata key under ``metadata.adrastea`` that records a run.
RUN_KEY = "run"
BANNER_TAG = "adrastea-error"

ProgressCallback = Callable[["RunProgress"], None]


class RunError(BadRequest):
    """A run that cannot start: bad notebook, bad output path, bad cell range."""

    code, title = "run-error", "Cannot run the notebook"


@dataclass
class RunProgress:
    """What a progress display needs after each step."""

    done: int
    total: int
    cell_index: int | None
    cell_number: int | None
    status: str


@dataclass
class RunOutcome:
    """How a run ended.  ``failed_cell`` is the 1-based cell number of the error."""

    status: str  # "completed" | "failed" | "timeout"
    output: Path
    cells_run: int
    failed_cell: int | None = None
    ename: str = ""
    evalue: str = ""
    warnings: list[str] = field(default_factory=list)


def read_notebook(path: Path) -> dict[str, Any]:
    """Read and validate an ``.ipynb``; give every cell an id (nbformat 4.5).

    Raises:
        InvalidNotebook: missing, unreadable, not JSON or not a valid notebook.
    """
    from adrastea.documents import parse_notebook

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidNotebook(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = parse_notebook(raw)
    except InvalidNotebook as exc:
        raise InvalidNotebook(f"{path}: {exc.detail}") from exc
    if data["nbformat_minor"] < 5:
        data["nbformat_minor"] = 5
    for cell in data["cells"]:
        cell.setdefault("id", uuid.uuid4().hex[:8])
    return data


def check_writable(path: Path) -> None:
    """Refuse an output path whose folder is missing or not writable."""
    folder = path.parent
    if not folder.is_dir():
        raise RunError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RunError(f"output is not writable: {path}")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _run_meta(nb: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = nb["metadata"].setdefault("adrastea", {}).setdefault(RUN_KEY, {})
    return meta


def _remove_banner(nb: dict[str, Any]) -> None:
    nb["cells"] = [
        c for c in nb["cells"] if BANNER_TAG not in c.get("metadata", {}).get("tags", [])
    ]


def _add_banner(nb: dict[str, Any], number: int, ename: str, evalue: str) -> None:
    text = (
        f"**Adrastea: this run stopped with an error in cell {number}** "
        f"(`{ename}: {evalue}`). Fix it and continue with `adrastea run --resume`."
    )
    nb["cells"].insert(
        0,
        {
            "cell_type": "markdown",
            "id": "adrastea-error-banner",
            "metadata": {"tags": [BANNER_TAG]},
            "source": text,
        },
    )


def select_cells(nb: dict[str, Any], start_at: str | None, stop_after: str | None) -> list[str]:
    """Ids of the code cells from ``start_at`` to ``stop_after`` (inclusive).

    A cell is named by its id or its 1-based number among all cells.
    """
    ids = [c["id"] for c in nb["cells"]]

    def position(name: str) -> int:
        if name in ids:
            return ids.index(name)
        if name.isdigit() and 1 <= int(name) <= len(ids):
            return int(name) - 1
        raise RunError(f"no cell {name!r}: give a cell id or a number from 1 to {len(ids)}")

    first = position(start_at) if start_at else 0
    last = position(stop_after) if stop_after else len(ids) - 1
    if first > last:
        raise RunError(f"--start-at {start_at} comes after --stop-after {stop_after}")
    return [c["id"] for c in nb["cells"][first : last + 1] if c["cell_type"] == "code"]


async def execute_notebook(
    nb: dict[str, Any],
    output: Path,
    *,
    cells: list[str],
    kernel_name: str | None = None,
    cwd: Path | None = None,
    cell_timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    rerun: list[str] | None = None,
) -> RunOutcome:
    """Run ``cells`` of ``nb`` on a fresh local kernel, saving ``output`` after each.

    ``rerun`` cells are executed first to rebuild kernel state (resume): their
    earlier outputs are kept unless the new ones differ.  Stops at the first
    error; the saved notebook then carries an error banner at the top.
    """
    from jupyter_client.manager import AsyncKernelManager

    name = kernel_name or nb["metadata"].get("kernelspec", {}).get("name") or "python3"
    sink = NotebookFileSink(nb, output)
    meta = _run_meta(nb)
    meta.update(status="running", start_time=_now(), kernel=name)
    meta.pop("end_time", None)
    meta.pop("error", None)
    completed: list[str] = meta.setdefault("completed", [])
    sink.save()
    rerun = rerun or []
    total = len(rerun) + len(cells)
    numbers = {c["id"]: i + 1 for i, c in enumerate(nb["cells"])}
    done = 0
    previous: dict[str, list[Any]] = {}

    def progress(cell_id: str | None, status: str) -> None:
        if on_progress is not None:
            number = numbers.get(cell_id) if cell_id else None
            on_progress(RunProgress(done, total, None, number, status))

    async def cell_done(cell_id: str, result: CellResult) -> None:
        nonlocal done
        done += 1
        cell = sink._cells[cell_id]
        if cell_id in previous and _same_outputs(cell["outputs"], previous[cell_id]):
            cell["outputs"] = previous[cell_id]
        if result.status == "ok" and cell_id not in completed:
            completed.append(cell_id)
        sink.save()
        progress(cell_id, result.status)

    manager = AsyncKernelManager(kernel_name=name)
    try:
        await manager.start_kernel(cwd=str(cwd) if cwd else None)
    except Exception as exc:
        raise RunError(f"cannot start kernel {name!r}: {exc}") from exc
    outcome = RunOutcome(status="completed", output=output, cells_run=0)
    try:
        kernel = ManagerConnection(manager)
        engine = NotebookEngine(kernel, sink, stdin_timeout=None, on_cell_done=cell_done)
        async with anyio.create_task_group() as tg:
            await tg.start(engine.serve)
            for cell_id in rerun:
                previous[cell_id] = sink._cells[cell_id]["outputs"]
            for cell_id in [*rerun, *cells]:
                progress(cell_id, "running")
                engine.enqueue([cell_id])
                with anyio.move_on_after(cell_timeout) as scope:
                    await engine.wait_idle()
                status = engine.status()
                if scope.cancelled_caught:
                    await engine.interrupt()
                    with anyio.move_on_after(10):
                        await engine.wait_idle()
                    outcome = _failed(
                        output, nb, cell_id, "CellTimeoutError",
                        f"cell ran longer than {cell_timeout:g} s",
                    )  # fmt: skip
                    outcome.status = "timeout"
                    break
                if status.last_error and status.last_error["cell_id"] == cell_id:
                    err = status.last_error
                    outcome = _failed(output, nb, cell_id, err["ename"], err["evalue"])
                    break
            tg.cancel_scope.cancel()
    finally:
        with contextlib.suppress(Exception):
            await manager.shutdown_kernel(now=True)
    outcome.cells_run = done
    meta["status"] = outcome.status
    meta["end_time"] = _now()
    if outcome.failed_cell is not None:
        meta["error"] = {
            "cell": outcome.failed_cell,
            "ename": outcome.ename,
            "evalue": outcome.evalue,
        }
        _add_banner(nb, outcome.failed_cell, outcome.ename, outcome.evalue)
    write_atomically(output, dump_notebook(nb))
    return outcome


def _failed(output: Path, nb: dict[str, Any], cell_id: str, ename: str, evalue: str) -> RunOutcome:
    number = next(i + 1 for i, c in enumerate(nb["cells"]) if c["id"] == cell_id)
    return RunOutcome("failed", output, 0, failed_cell=number, ename=ename, evalue=evalue)


def _same_outputs(new: list[Any], old: list[Any]) -> bool:
    """Whether a re-run produced the same outputs, ignoring execution counts."""

    def key(outputs: list[Any]) -> list[Any]:
        return [{k: v for k, v in o.items() if k != "execution_count"} for o in outputs]

    return key(new) == key(old)


def plan_resume(nb: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(cells to re-run for state, cells still to run) for a stopped run.

    Raises:
        RunError: the notebook holds no Adrastea run record, or it completed.
    """
    meta = nb["metadata"].get("adrastea", {}).get(RUN_KEY)
    if not meta:
        raise RunError("this notebook was not written by `adrastea run`; nothing to resume")
    _remove_banner(nb)
    completed = set(meta.get("completed", []))
    code = [c["id"] for c in nb["cells"] if c["cell_type"] == "code"]
    first_missing = next((i for i, cid in enumerate(code) if cid not in completed), None)
    if first_missing is None:
        raise RunError("that run already completed; nothing to resume")
    return code[:first_missing], code[first_missing:]
