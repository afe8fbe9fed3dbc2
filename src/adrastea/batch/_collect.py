"""A sweep's results gathered into one table: parameters, records, status, time, error.

Each task's output notebook is the source of truth: its injected parameters
(``metadata.papermill.parameters``), its ``record`` outputs, its error outputs,
and its timing, read from papermill's ``metadata.papermill``, from
``adrastea run``'s ``metadata.adrastea.run``, or from the per-cell
``metadata.execution`` timestamps that nbclient and JupyterLab write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from adrastea.batch._manifest import MANIFEST_NAME, SweepManifest, TaskState
from adrastea.batch._record import read_records

TaskStatus = Literal["ok", "failed", "missing"]

_FIXED = ("index", "notebook", "status")
_TRAILING = ("duration_s", "error")
_TASK_FILE = re.compile(r"^(\d+)(?:-.*)?\.ipynb$")
# Cell timing keys, earliest start and latest end first (nbclient and JupyterLab).
_START_KEYS = ("iopub.execute_input", "iopub.status.busy", "shell.execute_request")
_END_KEYS = ("shell.execute_reply", "iopub.status.idle")
# nbclient does not run cells with this tag.
_SKIP_TAG = "skip-execution"


@dataclass(frozen=True)
class TaskResult:
    """What one task's notebook says about its run."""

    index: int
    notebook: str  # relative to the sweep folder
    status: TaskStatus
    params: dict[str, Any] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None  # seconds
    error: str | None = None  # "ename: evalue" or why the task has no result


@dataclass(frozen=True)
class SweepTable:
    """The results of a sweep in task order, with the names that were swept."""

    results: tuple[TaskResult, ...]
    swept: tuple[str, ...]

    def param_names(self) -> list[str]:
        """Swept names first, then other parameters in order of first appearance."""
        names = dict.fromkeys(self.swept)
        for result in self.results:
            names.update(dict.fromkeys(result.params))
        return list(names)

    def record_names(self) -> list[str]:
        """Recorded names in order of first appearance."""
        names: dict[str, None] = {}
        for result in self.results:
            names.update(dict.fromkeys(result.records))
        return list(names)

    def _record_columns(self) -> dict[str, str]:
        taken = {*_FIXED, *self.param_names(), *_TRAILING}
        return {name: f"record:{name}" if name in taken else name for name in self.record_names()}

    def columns(self) -> list[str]:
        """``index, notebook, status``, parameters, records, ``duration_s, error``.

        A record named like a parameter or a fixed column is ``record:NAME``.
        """
        records = self._record_columns().values()
        return [*_FIXED, *self.param_names(), *records, *_TRAILING]

    def rows(self) -> Iterator[dict[str, Any]]:
        """One dict per task, keyed by ``columns()``; absent values are None."""
        params = self.param_names()
        records = self._record_columns()
        for result in self.results:
            row: dict[str, Any] = {
                "index": result.index,
                "notebook": result.notebook,
                "status": result.status,
            }
            row.update((name, result.params.get(name)) for name in params)
            row.update((column, result.records.get(name)) for name, column in records.items())
            row["duration_s"] = result.duration
            row["error"] = result.error
            yield row


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _seconds(start: Any, end: Any) -> float | None:
    first, last = _timestamp(start), _timestamp(end)
    if first is None or last is None or (first.tzinfo is None) != (last.tzinfo is None):
        return None
    return (last - first).total_seconds()


def _code_cells(nb: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for cell in nb.get("cells") or ():
        if isinstance(cell, Mapping) and cell.get("cell_type") == "code":
            yield cell


def run_duration(nb: Mapping[str, Any]) -> float | None:
    """Seconds the notebook's run took, or None when it does not say.

    Prefers papermill's ``metadata.papermill.duration``, then ``adrastea run``'s
    start and end times, then the span from the first cell's start to the last
    cell's reply in the per-cell ``metadata.execution`` timestamps.
    """
    metadata = nb.get("metadata") or {}
    duration = (metadata.get("papermill") or {}).get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return float(duration)
    run = (metadata.get("adrastea") or {}).get("run") or {}
    seconds = _seconds(run.get("start_time"), run.get("end_time"))
    if seconds is not None:
        return seconds
    starts: list[datetime] = []
    ends: list[datetime] = []
    for cell in _code_cells(nb):
        timing = (cell.get("metadata") or {}).get("execution") or {}
        start = next((t for k in _START_KEYS if (t := _timestamp(timing.get(k)))), None)
        end = next((t for k in _END_KEYS if (t := _timestamp(timing.get(k)))), None)
        if start is not None and end is not None:
            starts.append(start)
            ends.append(end)
    try:
        return (max(ends) - min(starts)).total_seconds() if starts else None
    except TypeError:  # naive and aware timestamps mixed
        return None


def first_error(nb: Mapping[str, Any]) -> str | None:
    """``ename: evalue`` of the first error output, or None.

    ``SystemExit`` with no code or code 0 is a clean exit, not an error, as in
    papermill.
    """
    for cell in _code_cells(nb):
        for output in cell.get("outputs") or ():
            if not isinstance(output, Mapping) or output.get("output_type") != "error":
                continue
            ename, evalue = str(output.get("ename", "")), str(output.get("evalue", ""))
            if ename == "SystemExit" and evalue in ("", "0"):
                continue
            return f"{ename}: {evalue}" if evalue else ename
    return None


def _status(nb: Mapping[str, Any]) -> tuple[TaskStatus, str | None]:
    error = first_error(nb)
    if error is not None:
        return "failed", error
    metadata = nb.get("metadata") or {}
    run = (metadata.get("adrastea") or {}).get("run") or {}
    if run.get("status") in ("failed", "timeout"):
        err = run.get("error") or {}
        ename, evalue = err.get("ename") or run["status"], err.get("evalue")
        return "failed", f"{ename}: {evalue}" if evalue else str(ename)
    if run.get("status") == "running":
        return "missing", "the run has not finished (still running, or stopped)"
    if (metadata.get("papermill") or {}).get("exception"):
        return "failed", "papermill recorded an exception"
    # Cells that should have run but have no execution count: the run stopped early.
    counts = [
        cell.get("execution_count")
        for cell in _code_cells(nb)
        if "".join(cell.get("source") or "").strip()
        and _SKIP_TAG not in ((cell.get("metadata") or {}).get("tags") or ())
    ]
    if counts and all(count is None for count in counts):
        return "missing", "the notebook has not been run"
    if None in counts:
        return "failed", f"the run stopped before code cell {counts.index(None) + 1}"
    return "ok", None


def read_task(path: Path, *, index: int, notebook: str, params: Mapping[str, Any]) -> TaskResult:
    """One task's result from its output notebook at ``path``.

    ``params`` are the manifest's parameters for the task; parameters the
    notebook records override them.  A missing file is ``missing``; a file that
    is not a notebook is ``failed``, with the reason.
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TaskResult(index, notebook, "missing", dict(params), error="no output notebook")
    except (OSError, ValueError) as exc:
        return TaskResult(index, notebook, "failed", dict(params), error=f"unreadable: {exc}")
    if not isinstance(nb, dict):
        return TaskResult(index, notebook, "failed", dict(params), error="not a notebook")
    injected = ((nb.get("metadata") or {}).get("papermill") or {}).get("parameters")
    merged = {**params, **(injected if isinstance(injected, dict) else {})}
    status, error = _status(nb)
    return TaskResult(index, notebook, status, merged, read_records(nb), run_duration(nb), error)


def _varying(results: list[TaskResult]) -> tuple[str, ...]:
    seen: dict[str, set[str]] = {}
    for result in results:
        for name, value in result.params.items():
            seen.setdefault(name, set()).add(json.dumps(value, sort_keys=True, default=str))
    return tuple(name for name, values in seen.items() if len(values) > 1)


def collect(sweep_dir: Path) -> SweepTable:
    """Read every task notebook of the sweep in ``sweep_dir`` into a table.

    With a ``manifest.json`` the tasks are the manifest's (a task whose notebook
    is absent is ``missing``, and a task the manifest marks failed without an
    error in its notebook keeps the manifest's error); without one, every
    ``NNN-*.ipynb`` in the folder is a task and the swept names are those whose
    values differ between tasks.

    Raises:
        BadRequest: the manifest is not valid.
    """
    sweep_dir = Path(sweep_dir)
    results: list[TaskResult] = []
    if (sweep_dir / MANIFEST_NAME).exists():
        manifest = SweepManifest.load(sweep_dir)
        for task in manifest.tasks:
            result = read_task(
                sweep_dir / task.output, index=task.index, notebook=task.output, params=task.params
            )
            if task.state is TaskState.FAILED and result.status != "failed":
                result = replace(result, status="failed", error=task.error or "the task failed")
            results.append(result)
        return SweepTable(tuple(results), tuple(manifest.grid))
    for path in sorted(sweep_dir.glob("*.ipynb")):
        if match := _TASK_FILE.match(path.name):
            results.append(read_task(path, index=int(match[1]), notebook=path.name, params={}))
    results.sort(key=lambda result: result.index)
    return SweepTable(tuple(results), _varying(results))
