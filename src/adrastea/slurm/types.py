"""The vocabulary of the Slurm adapter: job ids, job states, what a job looks like."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType

__all__ = ["ACTIVE_STATES", "FINISHED_STATES", "JobId", "JobInfo", "JobState"]

#: A Slurm job id as Slurm prints it: ``"123"``, or ``"123_4"`` for an array task.
JobId = NewType("JobId", str)


class JobState(StrEnum):
    """A job's state, as ``squeue``/``sacct`` name it (base states and the common extended ones)."""

    PENDING = "PENDING"
    CONFIGURING = "CONFIGURING"
    RUNNING = "RUNNING"
    COMPLETING = "COMPLETING"
    SUSPENDED = "SUSPENDED"
    STOPPED = "STOPPED"
    SIGNALING = "SIGNALING"
    STAGE_OUT = "STAGE_OUT"
    RESIZING = "RESIZING"
    REQUEUED = "REQUEUED"
    REQUEUE_FED = "REQUEUE_FED"
    REQUEUE_HOLD = "REQUEUE_HOLD"
    RESV_DEL_HOLD = "RESV_DEL_HOLD"
    SPECIAL_EXIT = "SPECIAL_EXIT"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    NODE_FAIL = "NODE_FAIL"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    PREEMPTED = "PREEMPTED"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"
    REVOKED = "REVOKED"
    #: A state this adapter does not know (a newer Slurm); treated as still active.
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, text: str) -> JobState:
        """The state in ``squeue``/``sacct`` text; ``"CANCELLED by 0"`` is ``CANCELLED``."""
        word = text.strip().split(" ", 1)[0].upper().rstrip("+")
        try:
            return cls(word)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_finished(self) -> bool:
        """True for terminal states: the job will never run again."""
        return self in FINISHED_STATES

    @property
    def is_pending(self) -> bool:
        """True while the job waits for resources (or is held), before it runs."""
        return self in {JobState.PENDING, JobState.CONFIGURING, JobState.REQUEUE_HOLD}


FINISHED_STATES = frozenset(
    {
        JobState.COMPLETED,
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.OUT_OF_MEMORY,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
        JobState.REVOKED,
    }
)
ACTIVE_STATES = frozenset(JobState) - FINISHED_STATES


@dataclass(frozen=True)
class JobInfo:
    """One job as Slurm last described it.

    Times are timezone-aware (Slurm prints the client host's local time).
    ``time_limit``/``time_left`` are None when unlimited or unknown.  ``exit_code``
    and ``signal`` are known once the job finished: a job killed by a signal
    (``scancel``) has ``signal`` set; ``exit_code`` is the batch script's status.
    """

    job_id: JobId
    state: JobState
    name: str = ""
    reason: str | None = None
    partition: str | None = None
    nodes: str | None = None
    submit_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    time_limit: timedelta | None = None
    time_left: timedelta | None = None
    elapsed: timedelta | None = None
    exit_code: int | None = None
    signal: int | None = None

    @property
    def is_finished(self) -> bool:
        return self.state.is_finished

    def describe(self) -> str:
        """A one-line human summary, e.g. ``job 12 PENDING (Resources)``."""
        text = f"job {self.job_id} {self.state.value}"
        if self.reason and self.reason != "None":
            text += f" ({self.reason})"
        if self.nodes and not self.state.is_pending:
            text += f" on {self.nodes}"
        if self.is_finished:
            if self.signal:
                text += f", signal {self.signal}"
            elif self.exit_code is not None:
                text += f", exit code {self.exit_code}"
        return text
