"""Parsing Slurm's output, on text captured from the real dev cluster (``data/``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adrastea.slurm import JobState, parse_sacct, parse_squeue
from adrastea.slurm._parse import duration, exit_pair, text, timestamp, wait_status

DATA = Path(__file__).with_name("data")


@pytest.fixture(scope="module")
def squeue_jobs() -> dict[str, object]:
    return {job.job_id: job for job in parse_squeue((DATA / "squeue.txt").read_text())}


def test_squeue_states_reasons_and_exit_codes(squeue_jobs: dict) -> None:
    states = {
        job_id: (job.state, job.reason, job.exit_code, job.signal)
        for job_id, job in squeue_jobs.items()
    }
    assert states == {
        "5": (JobState.FAILED, "NonZeroExitCode", 4, None),
        "7": (JobState.RUNNING, None, None, None),
        "8": (JobState.PENDING, "PartitionConfig", None, None),
        "9": (JobState.TIMEOUT, "TimeLimit", 0, 15),
        "10": (JobState.FAILED, "NonZeroExitCode", 3, None),
        "11": (JobState.COMPLETED, None, 0, None),
        "12": (JobState.CANCELLED, None, 0, 15),
        "13": (JobState.COMPLETED, None, 0, None),
        "14": (JobState.RUNNING, None, None, None),
        "15": (JobState.COMPLETED, None, 0, None),
    }


def test_squeue_times_nodes_and_names(squeue_jobs: dict) -> None:
    pending, running, timed_out, long = (squeue_jobs[i] for i in ("8", "7", "9", "14"))
    assert pending.nodes is None and pending.start_time is None and pending.time_limit is None
    assert running.nodes == "vm" and running.partition == "debug"
    assert running.name == "pipe|name"  # the name is last, so a "|" in it survives
    assert running.start_time is not None and running.start_time.tzinfo is not None
    assert running.end_time is None  # only a finished job has a real end time
    assert running.elapsed == timedelta(minutes=2, seconds=31)
    assert timed_out.time_limit == timedelta(minutes=1) and timed_out.time_left is None
    assert timed_out.end_time is not None and timed_out.end_time > timed_out.start_time
    assert long.partition == "batch"
    assert long.time_limit == timedelta(days=2)
    assert long.time_left == timedelta(days=1, hours=23, minutes=57, seconds=29)
    assert "PENDING (PartitionConfig)" in pending.describe()
    assert timed_out.describe() == "job 9 TIMEOUT (TimeLimit) on vm, signal 15"


def test_squeue_skips_junk() -> None:
    assert parse_squeue("\nslurm_load_jobs error: whatever\n|||\n") == []


def test_sacct_completion_file() -> None:
    jobs = {job.job_id: job for job in parse_sacct((DATA / "sacct-completion.txt").read_text())}
    assert jobs["9"].state is JobState.TIMEOUT and jobs["9"].time_limit == timedelta(minutes=1)
    assert (jobs["10"].state, jobs["10"].exit_code) == (JobState.FAILED, 3)
    assert jobs["8"].nodes is None  # "(null)": it never ran
    assert jobs["7"].name == "pipe|name"
    assert jobs["14"].time_limit == timedelta(days=2)  # bare minutes in the jobcomp file
    assert jobs["9"].elapsed == timedelta(minutes=1, seconds=15)
    assert all(job.is_finished for job in jobs.values())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UNLIMITED", None),
        ("INVALID", None),
        ("0:00", timedelta(0)),
        ("1:00", timedelta(minutes=1)),
        ("1:02:03", timedelta(hours=1, minutes=2, seconds=3)),
        ("2-03:04:05", timedelta(days=2, hours=3, minutes=4, seconds=5)),
        ("2-03", timedelta(days=2, hours=3)),
        ("2-03:04", timedelta(days=2, hours=3, minutes=4)),
        ("90", timedelta(minutes=90)),
        ("soon", None),
    ],
)
def test_durations(raw: str, expected: timedelta | None) -> None:
    assert duration(raw) == expected


def test_small_conventions() -> None:
    assert duration("90", bare_unit="seconds") == timedelta(seconds=90)
    assert timestamp("N/A") is None and timestamp("NONE") is None
    assert timestamp("1970-01-01T00:00:00") is None
    assert wait_status("768") == (3, None) and wait_status("15") == (0, 15)
    assert wait_status("") == (None, None)
    assert exit_pair("3:0") == (3, None) and exit_pair("0:9") == (0, 9)
    assert text("None") is None and text("(null)") is None and text("vm") == "vm"
    assert JobState.parse("CANCELLED by 0") is JobState.CANCELLED
    assert JobState.parse("SOMETHING_NEW") is JobState.UNKNOWN
    assert not JobState.UNKNOWN.is_finished  # an unknown state is treated as still active
    assert JobState.OUT_OF_MEMORY.is_finished and JobState.NODE_FAIL.is_finished
