"""Cancel or signal jobs: ``scancel``."""

from __future__ import annotations

import anyio

from adrastea.errors import SlurmError
from adrastea.slurm._run import run
from adrastea.slurm.types import JobId

#: A signal to a job that is not running (pending, completing) makes scancel
#: retry "Job can not be altered now" for about 95 s before it fails (measured,
#: Slurm 22.05); nobody waits that long for an interrupt.
SIGNAL_TIMEOUT = 5.0


async def scancel(job_id: JobId, *, signal: str | None = None, full: bool = False) -> None:
    """Cancel ``job_id``, or with ``signal`` (e.g. ``"INT"``) only signal it.

    ``full=True`` signals every process of the job, the batch shell and its
    children; without it a signal reaches only job *steps* (``srun``), which a
    kernel exec'd from the batch script is not.  Cancelling a job that already
    ended succeeds silently.

    Raises:
        SlurmError: Slurm refused or could not be reached; for a signal, also
            when the job is not running and Slurm still refuses after
            ``SIGNAL_TIMEOUT`` seconds.
    """
    argv = ["scancel"]
    if signal is not None:
        argv.append(f"--signal={signal}")
    if full:
        argv.append("--full")
    argv.append(str(job_id))
    if signal is None:
        await run(argv)
        return
    try:
        with anyio.fail_after(SIGNAL_TIMEOUT):
            await run(argv)
    except TimeoutError as exc:
        raise SlurmError(
            f"cannot signal job {job_id} now: it is not running (pending or ending)",
            command=tuple(argv),
        ) from exc
