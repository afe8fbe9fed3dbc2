"""Sweeps: one notebook run once per grid point, locally or as a Slurm job array.

The manifest (``DIR/manifest.json``) records the grid, the job id and each
task's state; only the commands the user runs write it (one writer).  Each
task's output notebook is the truth about that task: ``refresh`` reads the
notebooks (and, for a job array, Slurm) back into the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from adrastea.batch._manifest import SweepManifest, TaskState
from adrastea.batch._run import RunError, execute_notebook, read_notebook, select_cells
from adrastea.errors import AdrasteaError

Report = Callable[[str], None]


def prepare_task(notebook: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """The input notebook with ``params`` injected papermill's way."""
    from adrastea.batch._inject import inject_parameters

    nb = read_notebook(notebook)
    if not params:
        return nb
    injection = inject_parameters(nb, params)
    out = dict(injection.notebook)
    out.setdefault("metadata", {}).setdefault("adrastea", {})["parameters"] = dict(params)
    return out


def task_state(path: Path) -> tuple[TaskState, str | None]:
    """A task's state as its output notebook tells it (PENDING if there is none)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return TaskState.PENDING, None
    run = nb.get("metadata", {}).get("adrastea", {}).get("run", {})
    status = run.get("status")
    if status == "completed":
        return TaskState.DONE, None
    if status in ("failed", "timeout", "cancelled"):
        error = run.get("error") or {}
        return TaskState.FAILED, f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"
    if status == "running":
        return TaskState.RUNNING, None
    return TaskState.PENDING, None


def refresh(manifest: SweepManifest, out: Path) -> SweepManifest:
    """The manifest with every task's state read from its output notebook."""
    for task in manifest.tasks:
        state, error = task_state(out / task.output)
        if (state, error) != (task.state, task.error):
            manifest = manifest.with_state(task.index, state, error)
    return manifest


async def run_local(
    notebook: Path,
    out: Path,
    manifest: SweepManifest,
    *,
    indices: list[int],
    max_parallel: int,
    kernel: str | None = None,
    report: Report | None = None,
) -> SweepManifest:
    """Run tasks ``indices`` of the sweep on local kernels, ``max_parallel`` at a time.

    The manifest is saved after every task; returns the final one.
    """
    limiter = anyio.CapacityLimiter(max(1, max_parallel))
    state = {"manifest": manifest}
    lock = anyio.Lock()

    async def update(index: int, task_state_: TaskState, error: str | None) -> None:
        async with lock:
            state["manifest"] = state["manifest"].with_state(index, task_state_, error)
            await anyio.to_thread.run_sync(state["manifest"].save, out)

    async def one(index: int) -> None:
        task = manifest.tasks[index]
        async with limiter:
            await update(index, TaskState.RUNNING, None)
            try:
                nb = prepare_task(notebook, {**manifest.parameters, **task.params})
                outcome = await execute_notebook(
                    nb,
                    out / task.output,
                    cells=select_cells(nb, None, None),
                    kernel_name=kernel,
                    cwd=notebook.parent,
                )
            except AdrasteaError as exc:
                await update(index, TaskState.FAILED, exc.detail)
                if report:
                    report(f"task {index}: failed: {exc.detail}")
                return
            if outcome.status == "completed":
                await update(index, TaskState.DONE, None)
                if report:
                    report(f"task {index}: done")
            else:
                error = f"{outcome.ename}: {outcome.evalue}"
                await update(index, TaskState.FAILED, error)
                if report:
                    report(f"task {index}: failed: {error}")

    async with anyio.create_task_group() as tg:
        for index in indices:
            tg.start_soon(one, index)
    return state["manifest"]


def to_rerun(manifest: SweepManifest) -> list[int]:
    """Indices of the tasks that failed or never finished."""
    return [t.index for t in manifest.tasks if t.state != TaskState.DONE]


def check_out_dir(out: Path) -> None:
    """Create the sweep folder, refusing a file in its place."""
    if out.exists() and not out.is_dir():
        raise RunError(f"--out must be a folder: {out}")
    out.mkdir(parents=True, exist_ok=True)
