"""Notebook jobs in Slurm: the job folders, their records, and Slurm's view of them.

Each submitted run gets a folder under ``jobs_dir()`` holding the generated
batch script (kept so the user can read it), Slurm's log and a ``job.json``
record; ``JOBS_DIR/<job id>`` names it.  A sweep's job array keeps its script
and logs in the sweep folder and only its record here.  The job's state comes
from Slurm (``squeue``, then accounting) and is kept in ``state.json`` once
final, because Slurm forgets finished jobs after ``MinJobAge``; its progress
comes from the output notebooks, which ``adrastea run`` saves after every cell.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from adrastea.errors import AdrasteaError, BadRequest, NotFound

__all__ = [
    "JobRecord",
    "JobStatus",
    "batch_script",
    "job_states",
    "job_summary",
    "jobs_dir",
    "load_job",
    "load_jobs",
    "new_job_folder",
    "progress",
    "read_logs",
    "save_job",
]

_SBATCH_FLAGS = {
    "partition": "--partition",
    "time": "--time",
    "cpus": "--cpus-per-task",
    "mem": "--mem",
    "gres": "--gres",
    "account": "--account",
    "qos": "--qos",
    "constraint": "--constraint",
}
_RECORD = "job.json"
_STATE = "state.json"


class JobNotFound(NotFound):
    code, title = "job-not-found", "No such job"


@dataclass(frozen=True)
class JobRecord:
    """What we know of a notebook job beyond what Slurm knows."""

    job_id: str
    kind: str  # "run" | "sweep"
    notebook: str
    output: str  # output notebook, or the sweep folder
    environment: str
    submitted: str
    script: str
    log: str  # the Slurm log, or a sweep's folder of task logs
    #: A sweep job's task indices (a resumed sweep reruns only some).
    tasks: tuple[int, ...] | None = None


@dataclass(frozen=True)
class JobStatus:
    """Slurm's view of a notebook job; for a job array, summed up over its tasks."""

    state: str  # a ``JobState`` value
    reason: str | None = None
    node: str | None = None
    exit_code: int | None = None
    finished: bool = False
    #: For a job array: how many of the rows Slurm shows are in each state.
    task_states: dict[str, int] = field(default_factory=dict)


def jobs_dir() -> Path:
    """Where job folders live: ``$ADRASTEA_JOBS_DIR`` or the user's state folder."""
    configured = os.environ.get("ADRASTEA_JOBS_DIR")
    base = Path(configured) if configured else Path(platformdirs.user_state_dir("adrastea"))
    return (base / "jobs") if not configured else base


def new_job_folder(stem: str) -> Path:
    """A fresh folder for a job not yet submitted (its log's folder must exist first).

    Slurm opens the log on the compute node when the job starts, possibly
    before ``sbatch`` has returned here, so the folder cannot wait for the
    job id; ``link_job_folder`` names it by the id afterwards.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = jobs_dir() / f"{stem}-{stamp}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    return folder


def link_job_folder(job_id: str, folder: Path) -> None:
    """Make ``JOBS_DIR/<job_id>`` name ``folder`` (a relative symlink beside it)."""
    (jobs_dir() / job_id).symlink_to(folder.name, target_is_directory=True)


def batch_script(
    command: list[str],
    *,
    resources: dict[str, Any],
    extra_sbatch: list[str],
    setup: list[str],
    job_name: str,
    log: Path,
    cwd: Path,
    array: str | None = None,
) -> str:
    """A bash batch script running ``command`` with the environment's resources.

    ``command`` is ``exec``'d, so Slurm's SIGTERM at the time limit or on
    ``scancel`` reaches ``adrastea run`` itself, which saves before it exits.
    """
    lines = ["#!/bin/bash", f"#SBATCH --job-name={job_name}", f"#SBATCH --output={log}"]
    lines.append(f"#SBATCH --chdir={cwd}")
    for name, flag in _SBATCH_FLAGS.items():
        value = resources.get(name)
        if value is not None:
            lines.append(f"#SBATCH {flag}={value}")
    if array is not None:
        lines.append(f"#SBATCH --array={array}")
    for extra in extra_sbatch:
        if "\n" in extra:
            raise BadRequest(f"an #SBATCH line may not contain a newline: {extra!r}")
        lines.append(f"#SBATCH {extra}")
    lines.append("set -e")
    lines.extend(setup)
    lines.append("exec " + shlex.join(command))
    return "\n".join(lines) + "\n"


def python_command(*args: str) -> list[str]:
    """``python -m adrastea ARGS`` with this very interpreter (same venv on the node)."""
    return [sys.executable, "-m", "adrastea", *args]


def save_job(record: JobRecord) -> None:
    from adrastea.documents import atomic_write

    folder = jobs_dir() / record.job_id
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / _RECORD, json.dumps(asdict(record), indent=1).encode())


def load_job(job_id: str) -> JobRecord:
    """The record of a job we submitted; ``JobNotFound`` otherwise."""
    if not job_id.replace("_", "").isdigit():
        raise JobNotFound(f"no notebook job {job_id!r}")
    try:
        data = json.loads((jobs_dir() / job_id / _RECORD).read_text())
        if data.get("tasks") is not None:
            data["tasks"] = tuple(data["tasks"])
        return JobRecord(**data)
    except (OSError, ValueError, TypeError):
        raise JobNotFound(f"no notebook job {job_id!r}") from None


def load_jobs() -> list[JobRecord]:
    """Every recorded job, newest first."""
    records = []
    folder = jobs_dir()
    if folder.is_dir():
        for entry in folder.iterdir():
            if not entry.name.isdigit():
                continue  # a run's real folder; its job id links to it
            try:
                records.append(load_job(entry.name))
            except JobNotFound:
                continue
    return sorted(records, key=lambda r: r.submitted, reverse=True)


def progress(record: JobRecord) -> dict[str, Any]:
    """How far the job got, read from its output notebook(s).

    A run: code cells done / total and the run's status.  A sweep: its
    tasks done, failed and in all.
    """
    if record.kind == "sweep":
        return _sweep_progress(record)
    try:
        nb = json.loads(Path(record.output).read_text())
    except (OSError, ValueError):
        return {"cells_done": 0, "cells_total": None, "run_status": None}
    run = nb.get("metadata", {}).get("adrastea", {}).get("run", {})
    total = sum(1 for c in nb.get("cells", []) if c.get("cell_type") == "code")
    return {
        "cells_done": len(run.get("completed", [])),
        "cells_total": total,
        "run_status": run.get("status"),
    }


def _sweep_progress(record: JobRecord) -> dict[str, Any]:
    from adrastea.batch._manifest import SweepManifest, TaskState
    from adrastea.batch._sweep import task_state

    out = Path(record.output)
    try:
        manifest = SweepManifest.load(out)
    except AdrasteaError:
        return {"tasks_done": 0, "tasks_failed": 0, "tasks_total": None}
    indices = record.tasks if record.tasks is not None else range(len(manifest.tasks))
    states = [task_state(out / manifest.tasks[i].output)[0] for i in indices]
    return {
        "tasks_done": states.count(TaskState.DONE),
        "tasks_failed": states.count(TaskState.FAILED),
        "tasks_total": len(states),
    }


def now() -> str:
    return datetime.now(UTC).isoformat()


async def job_states(records: list[JobRecord]) -> dict[str, JobStatus]:
    """Slurm's view of each recorded job, by job id, where known.

    Runs are asked about in one ``squeue`` call (then accounting for the ones
    the controller forgot), each unfinished job array in one call of its own
    (``squeue --jobs=ARRAY`` lists all its tasks).  A final state is kept in
    the job's folder and not asked about again.

    Raises:
        SlurmError: ``squeue`` failed.
    """
    from adrastea.slurm import JobId, sacct, squeue

    states: dict[str, JobStatus] = {}
    runs: list[JobId] = []
    arrays: list[JobId] = []
    for record in records:
        cached = _cached_state(record.job_id)
        if cached is not None:
            states[record.job_id] = cached
        else:
            (arrays if record.kind == "sweep" else runs).append(JobId(record.job_id))
    fresh: dict[str, JobStatus] = {}
    if runs:
        fresh.update({str(k): _status(v) for k, v in (await squeue(runs)).items()})
        missing = [i for i in runs if i not in fresh]
        # Without accounting (sacct fails) the state of old jobs stays unknown.
        with contextlib.suppress(AdrasteaError):
            if missing:
                fresh.update({str(k): _status(v) for k, v in (await sacct(missing)).items()})
    for array in arrays:
        # The rows carry the tasks' own job ids (squeue's JobID), not ARRAY_i.
        rows = list((await squeue([array])).values())
        if rows:
            fresh[str(array)] = _array_status(rows)
    for job_id, status in fresh.items():
        states[job_id] = status
        if status.finished:
            _cache_state(job_id, status)
    return states


def _status(info: Any) -> JobStatus:
    return JobStatus(
        state=info.state.value,
        reason=info.reason,
        node=info.nodes,
        exit_code=info.exit_code,
        finished=info.is_finished,
    )


def _array_status(rows: Iterable[Any]) -> JobStatus:
    """One state for a job array: active while any task is, else its worst ending."""
    from adrastea.slurm import JobState

    rows = list(rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    active = [r for r in rows if not r.is_finished]
    nodes = sorted({r.nodes for r in rows if r.nodes and not r.state.is_pending})
    if active:
        running = [r for r in active if not r.state.is_pending]
        state = JobState.RUNNING if running else active[0].state
        reason = None if running else active[0].reason
        return JobStatus(state.value, reason, ",".join(nodes) or None, task_states=counts)
    ended = [r for r in rows if r.state is not JobState.COMPLETED]
    worst = ended[0] if ended else rows[0]
    return JobStatus(
        state=worst.state.value,
        reason=worst.reason,
        node=",".join(nodes) or None,
        exit_code=worst.exit_code,
        finished=True,
        task_states=counts,
    )


def _cached_state(job_id: str) -> JobStatus | None:
    try:
        data = json.loads((jobs_dir() / job_id / _STATE).read_text())
        return JobStatus(**data)
    except (OSError, ValueError, TypeError):
        return None


def _cache_state(job_id: str, status: JobStatus) -> None:
    from adrastea.documents import atomic_write

    with contextlib.suppress(OSError):
        atomic_write(jobs_dir() / job_id / _STATE, json.dumps(asdict(status)).encode())


def job_summary(record: JobRecord, info: JobStatus | None) -> dict[str, Any]:
    """The JSON view of one job (the CLI's ``jobs show`` and ``/api/jobs``)."""
    summary: dict[str, Any] = {
        "job_id": record.job_id,
        "kind": record.kind,
        "state": info.state if info is not None else "UNKNOWN",
        "reason": info.reason if info is not None else None,
        "node": info.node if info is not None else None,
        "exit_code": info.exit_code if info is not None else None,
        "notebook": record.notebook,
        "output": record.output,
        "environment": record.environment,
        "submitted": record.submitted,
    }
    if record.kind == "sweep":
        summary["tasks"] = list(record.tasks) if record.tasks is not None else None
        summary["task_states"] = info.task_states if info is not None else {}
    return {**summary, **progress(record)}


def read_logs(record: JobRecord) -> str:
    """The job's Slurm log (each of its tasks' logs for a sweep), as text."""
    log = Path(record.log)
    if log.is_dir():
        prefix = f"{record.job_id}_"
        paths = sorted(log.glob(f"{prefix}*.log"), key=lambda p: _task_number(p.name, prefix))
    else:
        paths = [log]
    return "".join(p.read_text(errors="replace") for p in paths if p.is_file())


def _task_number(name: str, prefix: str) -> int:
    digits = name.removeprefix(prefix).removesuffix(".log")
    return int(digits) if digits.isdigit() else -1
