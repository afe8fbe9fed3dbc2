"""One typed async adapter over Slurm's command-line tools.

``sbatch`` submits, ``squeue`` and ``sacct`` describe jobs, ``scancel`` cancels
or signals them, and a ``JobWatcher`` follows many jobs with few calls.  Every
command reads the cluster from the environment (``SLURM_CONF``, or the site's
default configuration) and every failure is a ``SlurmError``.

    job_id = await sbatch(Path("job.sh"), options=["--partition=debug"])
    info = await default_watcher().get(job_id, max_age=1.0)
    if info is not None and info.state is JobState.PENDING:
        print(info.reason)
    await scancel(job_id)
"""

from __future__ import annotations

from adrastea.errors import SlurmError
from adrastea.slurm._sacct import parse_sacct, sacct
from adrastea.slurm._sbatch import sbatch
from adrastea.slurm._scancel import scancel
from adrastea.slurm._squeue import parse_squeue, squeue
from adrastea.slurm._watch import JobWatcher, default_watcher
from adrastea.slurm.types import ACTIVE_STATES, FINISHED_STATES, JobId, JobInfo, JobState

__all__ = [
    "ACTIVE_STATES",
    "FINISHED_STATES",
    "JobId",
    "JobInfo",
    "JobState",
    "JobWatcher",
    "SlurmError",
    "default_watcher",
    "parse_sacct",
    "parse_squeue",
    "sacct",
    "sbatch",
    "scancel",
    "squeue",
]
