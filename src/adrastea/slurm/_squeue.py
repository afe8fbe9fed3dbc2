"""Jobs the controller still knows: ``squeue``.

Formatted output (``--Format`` with ``|`` after each field), not ``--json``:
in Slurm 22.05 ``squeue --json`` ignores ``--jobs`` and dumps every job of the
cluster, megabytes on a big machine, on every poll.  ``Name`` comes last
because a job name may itself contain ``|``.
"""

from __future__ import annotations

from collections.abc import Iterable

from adrastea.errors import SlurmError
from adrastea.slurm import _parse
from adrastea.slurm._run import run
from adrastea.slurm.types import JobId, JobInfo, JobState

FIELDS = (
    "JobID",
    "State",
    "Reason",
    "Partition",
    "NodeList",
    "SubmitTime",
    "StartTime",
    "EndTime",
    "TimeLimit",
    "TimeLeft",
    "TimeUsed",
    "exit_code",
    "Name",
)
FORMAT = ",".join(f"{field}:|" for field in FIELDS)


async def squeue(job_ids: Iterable[JobId]) -> dict[JobId, JobInfo]:
    """The jobs among ``job_ids`` that the controller still knows, in any state.

    Finished jobs stay known for ``MinJobAge`` seconds (300 by default) after
    they end; older or unknown ids are simply absent from the result.

    Raises:
        SlurmError: squeue failed (controller unreachable, ...).
    """
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    argv = ["squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", f"--Format={FORMAT}"]
    try:
        out = await run(argv)
    except SlurmError as exc:
        # Asked only for ids it has forgotten, squeue fails instead of printing nothing.
        if "Invalid job id" in exc.stderr:
            return {}
        raise
    return {job.job_id: job for job in parse_squeue(out)}


def parse_squeue(out: str) -> list[JobInfo]:
    """Parse the output of ``squeue --noheader --Format=FORMAT``; skips lines it cannot read."""
    jobs = []
    for line in out.splitlines():
        if not line.strip():
            continue
        parts = line.split("|", len(FIELDS) - 1)
        if len(parts) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, parts, strict=True))
        if not row["JobID"].strip():
            continue
        exit_code, signal = _parse.wait_status(row["exit_code"])
        state = JobState.parse(row["State"])
        jobs.append(
            JobInfo(
                job_id=JobId(row["JobID"].strip()),
                state=state,
                name=row["Name"].removesuffix("|"),
                reason=_parse.text(row["Reason"]),
                partition=_parse.text(row["Partition"]),
                nodes=_parse.text(row["NodeList"]),
                submit_time=_parse.timestamp(row["SubmitTime"]),
                start_time=_parse.timestamp(row["StartTime"]),
                end_time=_parse.timestamp(row["EndTime"]) if state.is_finished else None,
                time_limit=_parse.duration(row["TimeLimit"], bare_unit="seconds"),
                time_left=_parse.duration(row["TimeLeft"], bare_unit="seconds"),
                elapsed=_parse.duration(row["TimeUsed"], bare_unit="seconds"),
                exit_code=exit_code if state.is_finished else None,
                signal=signal if state.is_finished else None,
            )
        )
    return jobs
