"""Notebook jobs in Slurm: submit ``adrastea run`` (or a sweep's job array), list, cancel.

Each submitted job gets a folder ``JOBS_DIR/<job id>/`` holding the
generated batch script (kept so the user can read it), Slurm's log and a
``job.json`` record.  The job's state comes from Slurm (``squeue``, then the
accounting/jobcomp records), its progress from the partial output notebook,
which ``adrastea run`` saves after every cell.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from adrastea.documents import atomic_write
from adrastea.errors import AdrasteaError, BadRequest, NotFound

__all__ = [
    "JobRecord",
    "batch_script",
    "job_states",
    "job_summary",
    "jobs_dir",
    "load_job",
    "load_jobs",
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
    log: str


def jobs_dir() -> Path:
    """Where job folders live: ``$ADRASTEA_JOBS_DIR`` or the user's state folder."""
    configured = os.environ.get("ADRASTEA_JOBS_DIR")
    base = Path(configured) if configured else Path(platformdirs.user_state_dir("adrastea"))
    return (base / "jobs") if not configured else base


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
    """A bash batch script running ``command`` with the environment's resources."""
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
    folder = jobs_dir() / record.job_id
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "job.json", json.dumps(asdict(record), indent=1).encode())


def load_job(job_id: str) -> JobRecord:
    """The record of a job we submitted; ``JobNotFound`` otherwise."""
    if not job_id.replace("_", "").isdigit():
        raise JobNotFound(f"no notebook job {job_id!r}")
    try:
        data = json.loads((jobs_dir() / job_id / "job.json").read_text())
    except (OSError, ValueError):
        raise JobNotFound(f"no notebook job {job_id!r}") from None
    return JobRecord(**data)


def load_jobs() -> list[JobRecord]:
    """Every recorded job, newest first."""
    records = []
    folder = jobs_dir()
    if folder.is_dir():
        for entry in folder.iterdir():
            try:
                records.append(load_job(entry.name))
            except JobNotFound:
                continue
    return sorted(records, key=lambda r: r.submitted, reverse=True)


def progress(record: JobRecord) -> dict[str, Any]:
    """Cells done / total and the run status, read from the partial output notebook."""
    if record.kind != "run":
        return {}
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


def now() -> str:
    return datetime.now(UTC).isoformat()


async def job_states(records: list[JobRecord]) -> dict[str, Any]:
    """Slurm's view (``JobInfo``) of each recorded job, by job id, where known."""
    from adrastea.slurm import JobId, sacct, squeue

    ids = [JobId(r.job_id) for r in records]
    if not ids:
        return {}
    found: dict[str, Any] = {str(k): v for k, v in (await squeue(ids)).items()}
    missing = [i for i in ids if i not in found]
    # Without accounting (sacct fails) the state of old jobs stays unknown.
    with contextlib.suppress(AdrasteaError):
        found.update({str(k): v for k, v in (await sacct(missing)).items()} if missing else {})
    return found


def job_summary(record: JobRecord, info: Any) -> dict[str, Any]:
    """The JSON view of one job (the CLI's ``jobs show`` and ``/api/jobs``)."""
    state = info.state.value if info is not None else "UNKNOWN"
    return {
        "job_id": record.job_id,
        "kind": record.kind,
        "state": state,
        "reason": info.reason if info is not None else None,
        "node": info.nodes if info is not None else None,
        "notebook": record.notebook,
        "output": record.output,
        "environment": record.environment,
        "submitted": record.submitted,
        **progress(record),
    }


def read_logs(record: JobRecord) -> str:
    """The job's Slurm log (every task's log for a sweep), as text."""
    log = Path(record.log)
    paths = sorted(log.glob("*.log")) if log.is_dir() else [log]
    return "".join(p.read_text(errors="replace") for p in paths if p.is_file())
