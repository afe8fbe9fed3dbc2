"""Headless execution of a whole notebook: ``adrastea run``.

The same ``NotebookEngine`` as the server runs the cells; the sink is a plain
notebook saved atomically after every cell, so a run killed by walltime
leaves a valid notebook holding every cell that finished, and ``resume``
can pick it up.  Where the caller asks (``adrastea run``, a sweep's task),
SIGTERM, which Slurm sends at the time limit and on ``scancel`` ``KillWait``
seconds before SIGKILL, stops the run and saves it as ``timeout`` or
``cancelled`` first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from adrastea.batch._sink import NotebookFileSink, dump_notebook, write_atomically
from adrastea.errors import AdrasteaError, BadRequest, InvalidNotebook
from adrastea.execution import CellResult, ManagerConnection, NotebookEngine

#: Metadata key under ``metadata.adrastea`` that records a run.
RUN_KEY = "run"
BANNER_TAG = "adrastea-error"
#: Seconds a SIGTERM'd run spends asking Slurm why, within Slurm's KillWait.
STOP_QUERY_TIMEOUT = 2.0

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

    status: str  # "completed" | "failed" | "timeout" | "cancelled"
    output: Path
    cells_run: int
    failed_cell: int | None = None
    ename: str = ""
    evalue: str = ""
    warnings: list[str] = field(default_factory=list)
    #: Stopped by SIGTERM (Slurm's time limit, scancel), not by the notebook.
    terminated: bool = False


@dataclass
class _Stop:
    """A SIGTERM that stopped the run, and (once ``decided``) why it came."""

    requested: bool = False
    status: str = "cancelled"
    ename: str = "Terminated"
    evalue: str = "the run got SIGTERM"
    decided: anyio.Event = field(default_factory=anyio.Event)


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


def _add_banner(
    nb: dict[str, Any], number: int, ename: str, evalue: str, *, terminated: bool = False
) -> None:
    if terminated:
        text = (
            f"**Adrastea: this run was stopped in cell {number}** "
            f"(`{ename}: {evalue}`). Continue it with `adrastea run --resume`."
        )
    else:
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
    stop_on_sigterm: bool = False,
) -> RunOutcome:
    """Run ``cells`` of ``nb`` on a fresh local kernel, saving ``output`` after each.

    ``rerun`` cells are executed first to rebuild kernel state (resume): their
    earlier outputs are kept unless the new ones differ.  Stops at the first
    error; the saved notebook then carries an error banner at the top.

    With ``stop_on_sigterm`` (only for one run per process: it owns the
    process's SIGTERM handler while it runs), SIGTERM stops the run: the
    notebook is saved as ``timeout`` when Slurm says the job reached its time
    limit, else ``cancelled``, with the running cell's partial output.
    """
    from jupyter_client.manager import AsyncKernelManager

    name = kernel_name or nb["metadata"].get("kernelspec", {}).get("name") or "python3"
    sink = NotebookFileSink(nb, output, save_on_finish=False)  # cell_done saves
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
            sink.touch(cell_id)
        if result.status == "ok" and cell_id not in completed:
            completed.append(cell_id)
        sink.save()
        progress(cell_id, result.status)

    manager = AsyncKernelManager(kernel_name=name, kernel_spec_manager=_light_spec_manager())
    try:
        await manager.start_kernel(cwd=str(cwd) if cwd else None)
    except Exception as exc:
        raise RunError(f"cannot start kernel {name!r}: {exc}") from exc
    outcome = RunOutcome(status="completed", output=output, cells_run=0)
    stop = _Stop()
    current: str | None = None
    try:
        kernel = ManagerConnection(manager)
        engine = NotebookEngine(kernel, sink, stdin_timeout=None, on_cell_done=cell_done)
        async with anyio.create_task_group() as guard:
            run_scope = anyio.CancelScope()
            if stop_on_sigterm:
                await guard.start(_watch_sigterm, stop, run_scope)
            with run_scope:
                async with anyio.create_task_group() as tg:
                    await tg.start(engine.serve)
                    for cell_id in rerun:
                        previous[cell_id] = sink._cells[cell_id]["outputs"]
                    for cell_id in [*rerun, *cells]:
                        current = cell_id
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
                    else:
                        current = None
                    tg.cancel_scope.cancel()
            if stop.requested:
                with anyio.move_on_after(STOP_QUERY_TIMEOUT + 0.5):
                    await stop.decided.wait()
                outcome = RunOutcome(stop.status, output, 0, ename=stop.ename, evalue=stop.evalue)
                outcome.terminated = True
                if current is not None:
                    outcome.failed_cell = numbers[current]
            guard.cancel_scope.cancel()
        # Save before the kernel goes: after a SIGTERM, SIGKILL follows within seconds.
        outcome.cells_run = done
        _finish(nb, output, meta, outcome)
    finally:
        with contextlib.suppress(Exception):
            await _kill_kernel(manager)
    return outcome


async def _kill_kernel(manager: Any) -> None:
    """Stop the kernel at once: the notebook is saved, there is nothing left to ask it.

    jupyter_client's ``shutdown_kernel(now=True)`` polls for the exit every
    0.1 s; waiting on the (killed) process itself returns as soon as it is gone.
    """
    process = getattr(manager.provisioner, "process", None)
    if process is None:  # not a local process: let its provisioner do it
        await manager.shutdown_kernel(now=True)
        return
    await manager.provisioner.kill()
    await anyio.to_thread.run_sync(process.wait)
    await manager.cleanup_resources()


def _finish(nb: dict[str, Any], output: Path, meta: dict[str, Any], outcome: RunOutcome) -> None:
    """Record how the run ended in ``nb`` and save it."""
    meta["status"] = outcome.status
    meta["end_time"] = _now()
    if outcome.failed_cell is not None:
        meta["error"] = {
            "cell": outcome.failed_cell,
            "ename": outcome.ename,
            "evalue": outcome.evalue,
        }
        _add_banner(
            nb, outcome.failed_cell, outcome.ename, outcome.evalue, terminated=outcome.terminated
        )
    elif outcome.terminated:
        meta["error"] = {"cell": None, "ename": outcome.ename, "evalue": outcome.evalue}
    write_atomically(output, dump_notebook(nb))


async def _watch_sigterm(
    stop: _Stop, run: anyio.CancelScope, *, task_status: TaskStatus[None]
) -> None:
    """On SIGTERM, cancel ``run`` at once, then find out why the signal came.

    Keeps the handler installed until cancelled, so a second SIGTERM cannot
    kill the process while it saves.
    """
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            if stop.requested:
                continue
            stop.requested = True
            run.cancel()
            stop.status, stop.ename, stop.evalue = await _why_terminated()
            stop.decided.set()


async def _why_terminated() -> tuple[str, str, str]:
    """(status, ename, evalue) for a SIGTERM: Slurm's time limit, a cancel, or neither.

    While Slurm ends a job, squeue still lists it as COMPLETING, with reason
    ``TimeLimit`` at the time limit (measured, Slurm 22.05).  Time used past
    the limit proves nothing: limits are checked every 30 s, and a job may be
    cancelled meanwhile.  A job still RUNNING means the signal came from
    elsewhere (``kill`` in an allocation).
    """
    unknown = ("cancelled", "Terminated", "the run got SIGTERM")
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return unknown
    from adrastea.slurm import JobId, JobState, squeue

    with anyio.move_on_after(STOP_QUERY_TIMEOUT), contextlib.suppress(AdrasteaError):
        for info in (await squeue([JobId(job_id)])).values():
            if info.reason == "TimeLimit":
                return "timeout", "JobTimeout", f"Slurm job {job_id} reached its time limit"
            if info.state is not JobState.RUNNING:
                return "cancelled", "JobCancelled", f"Slurm job {job_id} was cancelled"
    return unknown


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


def _light_spec_manager() -> Any:
    """A KernelSpecManager that reads kernel.json without importing ipykernel.

    jupyter_client imports ipykernel (and with it IPython, about 0.6 s) just
    to look up the ``python3`` spec, and IPython (0.3 s) for the folder list;
    a headless run only needs the file.  The folders are jupyter_client's:
    Jupyter's data path, then IPython's old ``kernels`` folder.
    """
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
    from jupyter_core.paths import jupyter_path

    class _Light(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> Any:
            resource_dir = self.find_kernel_specs().get(kernel_name.lower())
            if resource_dir is None:
                raise NoSuchKernel(kernel_name)
            return KernelSpec.from_resource_dir(resource_dir)

    ipython_dir = Path(os.environ.get("IPYTHONDIR") or "~/.ipython").expanduser()
    return _Light(kernel_dirs=[*jupyter_path("kernels"), str(ipython_dir / "kernels")])
