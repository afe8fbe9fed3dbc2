"""Follow many jobs with few Slurm calls.

Every kernel polls its job, and jupyter_client polls often (every 0.1 s while
shutting down, every second to check liveness).  One ``JobWatcher`` answers
all of them: a refresh asks ``squeue`` once about every job being watched, and
callers that arrive while a refresh is under way wait for it instead of
starting another.  A finished job's state never changes, so it is remembered
and never asked about again.  Jobs the controller has forgotten are looked up
in accounting (``sacct``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
from anyio.lowlevel import RunVar

from adrastea.errors import SlurmError
from adrastea.slurm._sacct import sacct
from adrastea.slurm._squeue import squeue
from adrastea.slurm.types import JobId, JobInfo

__all__ = ["JobWatcher", "default_watcher"]


@dataclass
class _Refresh:
    started: float
    jobs: frozenset[JobId]
    done: anyio.Event = field(default_factory=anyio.Event)
    error: SlurmError | None = None
    answered: bool = False


class JobWatcher:
    """Coalesced, cached job states for any number of jobs (one event loop)."""

    def __init__(self) -> None:
        self._watched: set[JobId] = set()
        self._known: dict[JobId, tuple[float, JobInfo | None]] = {}
        self._refresh: _Refresh | None = None

    def forget(self, job_id: JobId) -> None:
        """Stop watching ``job_id`` and drop what is known about it."""
        self._watched.discard(job_id)
        self._known.pop(job_id, None)

    def remember(self, info: JobInfo) -> None:
        """Record a state learned elsewhere (e.g. right after ``sbatch``)."""
        self._watched.add(info.job_id)
        self._known[info.job_id] = (anyio.current_time(), info)

    async def get(self, job_id: JobId, *, max_age: float = 0.0) -> JobInfo | None:
        """The job's state, at most ``max_age`` seconds old; None if Slurm knows no such job.

        A job that is watched stays watched (asked about in every refresh)
        until ``forget``; a finished job is answered from memory.

        Raises:
            SlurmError: the refresh this call waited for failed.
        """
        self._watched.add(job_id)
        while True:
            now = anyio.current_time()
            seen = self._known.get(job_id)
            if seen is not None:
                taken, info = seen
                if (info is not None and info.is_finished) or now - taken <= max_age:
                    return info
            pending = self._refresh
            if pending is not None and job_id in pending.jobs and now - pending.started <= max_age:
                await pending.done.wait()
                if pending.error is not None:
                    raise pending.error
                if pending.answered:
                    return self._answer(job_id)
                continue  # that refresh was cancelled: start our own
            await self._run_refresh()
            # However long the refresh took, its answer is the freshest there is.
            return self._answer(job_id)

    def _answer(self, job_id: JobId) -> JobInfo | None:
        seen = self._known.get(job_id)  # forget() may have run meanwhile
        return seen[1] if seen is not None else None

    async def _run_refresh(self) -> None:
        active = {j for j in self._watched if not self._finished(j)}
        refresh = _Refresh(anyio.current_time(), frozenset(active))
        self._refresh = refresh
        try:
            found = await squeue(active)
            gone = active - found.keys()
            if gone:
                # The controller forgets a job MinJobAge after it ends.
                found |= {j: i for j, i in (await sacct(gone)).items() if i.is_finished}
            for job_id in active:
                self._known[job_id] = (refresh.started, found.get(job_id))
            refresh.answered = True
        except SlurmError as exc:
            refresh.error = exc
            raise
        finally:
            if self._refresh is refresh:
                self._refresh = None
            refresh.done.set()

    def _finished(self, job_id: JobId) -> bool:
        seen = self._known.get(job_id)
        return seen is not None and seen[1] is not None and seen[1].is_finished


_default: RunVar[JobWatcher] = RunVar("adrastea_slurm_watcher")


def default_watcher() -> JobWatcher:
    """The watcher shared by everything in the current event loop."""
    try:
        return _default.get()
    except LookupError:
        watcher = JobWatcher()
        _default.set(watcher)
        return watcher
