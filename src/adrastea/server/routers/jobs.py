"""``/api/jobs``: the user's notebook jobs in Slurm (the browser's jobs panel)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Response

from adrastea.batch._jobs import job_states, job_summary, load_job, load_jobs, read_logs

router = APIRouter(tags=["jobs"])


@router.get("/api/jobs")
async def list_jobs() -> list[dict[str, Any]]:
    """Every notebook job: state, node, progress read from the partial output."""
    records = load_jobs()
    states = await job_states(records)
    return [job_summary(r, states.get(r.job_id)) for r in records]


@router.get("/api/jobs/{job_id}")
async def show_job(job_id: str) -> dict[str, Any]:
    record = load_job(job_id)
    states = await job_states([record])
    return job_summary(record, states.get(record.job_id))


@router.delete("/api/jobs/{job_id}", status_code=204)
async def cancel_job(job_id: str) -> Response:
    """Cancel the job; its output notebook keeps every cell that finished."""
    from adrastea.slurm import JobId, scancel

    load_job(job_id)
    await scancel(JobId(job_id))
    return Response(status_code=204)


@router.get("/api/jobs/{job_id}/logs")
async def job_logs(job_id: str) -> Response:
    """The job's Slurm log as text."""
    record = load_job(job_id)
    text = await anyio.to_thread.run_sync(read_logs, record)
    return Response(text, media_type="text/plain; charset=utf-8")
