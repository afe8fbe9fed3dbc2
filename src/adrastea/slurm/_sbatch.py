"""Submit a batch script: ``sbatch --parsable``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from adrastea.errors import SlurmError
from adrastea.slurm._run import run
from adrastea.slurm.types import JobId


async def sbatch(
    script: Path,
    *,
    options: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> JobId:
    """Submit ``script`` with extra command-line ``options``; return the new job's id.

    Options on the command line override ``#SBATCH`` lines in the script.  The
    job's environment is ``env`` (None: ours), as sbatch exports it by default.

    Raises:
        SlurmError: sbatch refused the job (bad partition, over a limit, ...)
            or could not reach the controller.
    """
    out = await run(["sbatch", "--parsable", *options, str(script)], env=env, cwd=cwd)
    # --parsable prints "JOBID" or "JOBID;CLUSTER"; warnings may come before it.
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    job_id = lines[-1].split(";", 1)[0] if lines else ""
    if not job_id.replace("_", "").isdigit():
        raise SlurmError(f"sbatch printed no job id: {out.strip()!r}", command=("sbatch",))
    return JobId(job_id)
