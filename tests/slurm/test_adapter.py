"""The Slurm adapter (sbatch, squeue, scancel, sacct, the watcher) against the dev cluster."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from adrastea.slurm import (
    JobId,
    JobState,
    JobWatcher,
    SlurmError,
    sacct,
    sbatch,
    scancel,
    squeue,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def sleeper(tmp_path: Path) -> Path:
    path = tmp_path / "sleeper.sh"
    path.write_text("#!/bin/bash\n#SBATCH --time=5\nsleep 300\n")
    return path


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    path = tmp_path / "failing.sh"
    path.write_text("#!/bin/bash\nexit 3\n")
    return path


async def finished(watcher: JobWatcher, job_id: JobId) -> JobState:
    with anyio.fail_after(30):
        # Slurm has no events to wait on: poll.
        while True:
            info = await watcher.get(job_id, max_age=0.1)
            if info is not None and info.is_finished:
                return info.state
            await anyio.sleep(0.1)


async def test_submit_follow_cancel(slurm_cluster: str, sleeper: Path) -> None:
    job_id = await sbatch(sleeper, options=["--job-name=adapter", "--output=/dev/null"])
    watcher = JobWatcher()
    info = await watcher.get(job_id)
    assert info is not None and info.name == "adapter" and not info.is_finished
    assert info.time_limit is not None and info.time_limit.total_seconds() == 300
    # Many callers at once share one answer.
    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(lambda: watcher.get(job_id, max_age=5.0))
    await scancel(job_id)
    assert await finished(watcher, job_id) is JobState.CANCELLED
    assert (await squeue([job_id]))[job_id].state is JobState.CANCELLED


async def test_exit_code_and_accounting(slurm_cluster: str, failing: Path) -> None:
    job_id = await sbatch(failing, options=["--job-name=exit3", "--output=/dev/null"])
    watcher = JobWatcher()
    assert await finished(watcher, job_id) is JobState.FAILED
    info = await watcher.get(job_id)
    assert info is not None and (info.exit_code, info.signal) == (3, None)
    # Finished jobs are in accounting (here the jobcomp file, read by sacct -c).
    with anyio.fail_after(10):
        while job_id not in (found := await sacct([job_id, JobId("999999")])):  # noqa: ASYNC110
            await anyio.sleep(0.1)
    assert (found[job_id].state, found[job_id].exit_code) == (JobState.FAILED, 3)


async def test_signal_to_a_pending_job_is_refused(slurm_cluster: str, sleeper: Path) -> None:
    job_id = await sbatch(sleeper, options=["--cpus-per-task=64", "--output=/dev/null"])
    try:
        with pytest.raises(SlurmError, match="not running") as refused:
            await scancel(job_id, signal="INT", full=True)
        assert refused.value.command[0] == "scancel"
    finally:
        await scancel(job_id)


async def test_unknown_jobs_and_bad_requests(slurm_cluster: str, sleeper: Path) -> None:
    assert await squeue([JobId("987654")]) == {}
    assert await sacct([JobId("987654")]) == {}
    assert await JobWatcher().get(JobId("987654")) is None
    with pytest.raises(SlurmError, match="Invalid partition name") as bad:
        await sbatch(sleeper, options=["--partition=nope"])
    assert "sbatch" in (bad.value.log_detail or "")
    assert isinstance(bad.value.__cause__, Exception)  # raised from the CLI's failure


async def test_missing_slurm_is_a_slurm_error(
    sleeper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SlurmError, match="not found"):
        await sbatch(sleeper)
