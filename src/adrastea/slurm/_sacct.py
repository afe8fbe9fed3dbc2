"""Jobs the controller has forgotten: ``sacct``, or ``sacct -c`` (the jobcomp file).

With slurmdbd, plain ``sacct`` answers.  Without it (``AccountingStorageType=
accounting_storage/none``, as on the dev cluster) plain ``sacct`` fails with
"accounting storage is disabled" and ``sacct -c`` reads the job completion
file instead; which one works is learned on the first call.
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
    "ExitCode",
    "Partition",
    "NodeList",
    "Submit",
    "Start",
    "End",
    "Timelimit",
    "Elapsed",
    "JobName",
)

_use_jobcomp: bool | None = None  # learned on first use; the cluster does not change under us


async def sacct(job_ids: Iterable[JobId]) -> dict[JobId, JobInfo]:
    """The finished jobs among ``job_ids`` from accounting; unknown ids are absent.

    Raises:
        SlurmError: neither accounting nor the jobcomp file could be read.
    """
    global _use_jobcomp
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    argv = ["sacct", "--noheader", "--parsable2", "--allocations"]
    argv += [f"--jobs={','.join(ids)}", f"--format={','.join(FIELDS)}"]
    if _use_jobcomp is not True:
        try:
            out = await run(argv)
        except SlurmError as exc:
            if _use_jobcomp is False or "disabled" not in exc.stderr:
                raise
            _use_jobcomp = True
        else:
            _use_jobcomp = False
    if _use_jobcomp:
        # The jobcomp file only ever records allocations; -c knows no --allocations.
        out = await run(["sacct", "--completion", *(a for a in argv[1:] if a != "--allocations")])
    return {job.job_id: job for job in parse_sacct(out) if job.job_id in ids}


def parse_sacct(out: str) -> list[JobInfo]:
    """Parse ``sacct --parsable2 --format=FIELDS`` output; skips lines it cannot read."""
    jobs = []
    for line in out.splitlines():
        parts = line.split("|", len(FIELDS) - 1)
        if len(parts) != len(FIELDS) or not parts[0].strip():
            continue
        row = dict(zip(FIELDS, parts, strict=True))
        exit_code, signal = _parse.exit_pair(row["ExitCode"])
        state = JobState.parse(row["State"])
        jobs.append(
            JobInfo(
                job_id=JobId(row["JobID"].strip()),
                state=state,
                name=row["JobName"],
                partition=_parse.text(row["Partition"]),
                nodes=_parse.text(row["NodeList"]),
                submit_time=_parse.timestamp(row["Submit"]),
                start_time=_parse.timestamp(row["Start"]),
                end_time=_parse.timestamp(row["End"]),
                time_limit=_parse.duration(row["Timelimit"], bare_unit="minutes"),
                elapsed=_parse.duration(row["Elapsed"], bare_unit="seconds"),
                exit_code=exit_code,
                signal=signal,
            )
        )
    return jobs
