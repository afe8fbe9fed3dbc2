"""``adrastea submit``, ``adrastea jobs``, job-array sweeps and ``/api/jobs`` on real Slurm.

Everything runs the CLI as a subprocess, as a user would, against the dev
cluster.  The job with a 1-minute time limit (it ends TIMEOUT 69-90 s after it
starts) is submitted by a module fixture that the first test requests, so it
runs while the other tests do; its own test comes last.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nbformat
import pytest

from adrastea.testing import ServerProcess

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

T = TypeVar("T")

CONFIG = """\
[[environments]]
name = "debug"
kernelspec = "python3"
placement = "slurm"
[environments.slurm]
partition = "debug"
time = "10"

[[environments]]
name = "minute"
kernelspec = "python3"
placement = "slurm"
[environments.slurm]
partition = "debug"
time = "1"
"""

SLEEPER = "import pathlib, time\ntime.sleep(150 if not pathlib.Path('short').exists() else 0)"
FINISHED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}


@pytest.fixture(scope="module")
def work(slurm_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's working folder: ``adrastea.toml`` and a ``jobs`` folder."""
    folder = tmp_path_factory.mktemp("batch-jobs")
    (folder / "adrastea.toml").write_text(CONFIG)
    (folder / "jobs").mkdir()
    return folder


def _env(work: Path) -> dict[str, str]:
    return {**os.environ, "ADRASTEA_JOBS_DIR": str(work / "jobs"), "JUPYTER_PLATFORM_DIRS": "1"}


def cli(work: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adrastea", *args],
        cwd=work,
        env=_env(work),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def notebook(path: Path, *sources: str, parameters: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = []
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata.tags = ["parameters"]
        cells.append(cell)
    nb.cells = cells + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def load(path: Path) -> dict[str, Any]:
    """Read an output notebook and check that it is valid nbformat."""
    data: dict[str, Any] = json.loads(path.read_text())
    nbformat.validate(nbformat.from_dict(data))
    return data


def texts(nb: dict[str, Any]) -> list[str]:
    return [
        "".join(o["text"])
        for cell in nb["cells"]
        for o in cell.get("outputs", [])
        if o["output_type"] == "stream"
    ]


def until(check: Callable[[], T | None], within: float, what: str) -> T:
    """Poll ``check`` (a look at Slurm through the CLI) until it returns a value."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        time.sleep(0.3)  # Slurm has no events to wait on: poll


def show(work: Path, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(cli(work, "jobs", "show", job_id)))
    return data


def ended(work: Path, job_id: str, within: float) -> dict[str, Any]:
    """``jobs show`` once the job has left the queue."""

    def check() -> dict[str, Any] | None:
        summary = show(work, job_id)
        return summary if summary["state"] in FINISHED else None

    return until(check, within, f"job {job_id} ends")


def squeue_ids(job_id: str) -> list[str]:
    """The array task ids (``ID_i``) that squeue shows for a job."""
    out = subprocess.run(
        ["squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%i"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.split(), key=lambda i: int(i.partition("_")[2] or -1))


@pytest.fixture(scope="module")
def timeout_job(work: Path) -> Iterator[tuple[str, float]]:
    """(job id, submit time) of a run in a 1-minute environment that sleeps 150 s."""
    notebook(work / "walltime.ipynb", "print('a')", SLEEPER, "print('c')")
    submitted = time.monotonic()
    job_id = ok(cli(work, "submit", "walltime.ipynb", "--env", "minute")).strip()
    yield job_id, submitted
    subprocess.run(["scancel", job_id], check=False)


def test_submit_show_list_logs(work: Path, timeout_job: tuple[str, float]) -> None:
    notebook(
        work / "double.ipynb",
        "print(n * 2)",
        "import adrastea\nadrastea.record('n', n)",
        parameters="n = 1",
    )
    result = cli(work, "submit", "double.ipynb", "--env", "debug", "-p", "n", "3")
    job_id = ok(result).strip()
    assert job_id.isdigit(), result.stdout
    summary = ended(work, job_id, within=60)
    assert summary["state"] == "COMPLETED", summary
    assert summary["run_status"] == "completed"
    out = load(work / "double.out.ipynb")
    assert texts(out) == ["6\n"]
    assert out["metadata"]["adrastea"]["run"]["status"] == "completed"
    total = sum(1 for c in out["cells"] if c["cell_type"] == "code")
    assert summary["cells_done"] == summary["cells_total"] == total == 4  # with the injected cell

    listing = ok(cli(work, "jobs")).splitlines()
    line = next(line for line in listing if line.split()[0] == job_id)
    assert line.split()[1:4] == ["run", "COMPLETED", f"{total}/{total}"], line
    assert str(work / "double.ipynb") in line

    log = ok(cli(work, "jobs", "logs", job_id))
    assert "4/4 cell 4 ok" in log and "4 cells run" in log


def test_bad_submissions_are_one_line_and_leave_nothing(work: Path) -> None:
    notebook(work / "tiny.ipynb", "1")
    before = sorted(p.name for p in (work / "jobs").iterdir())
    unknown = cli(work, "submit", "tiny.ipynb", "--env", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: no environment 'nope' (known: debug, minute)"
    refused = cli(work, "submit", "tiny.ipynb", "--env", "debug", "--sbatch-arg=--partition=nope")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        == "error: Batch job submission failed: Invalid partition name specified"
    )
    assert sorted(p.name for p in (work / "jobs").iterdir()) == before
    assert not (work / "tiny.out.ipynb").exists()
    for args in (["jobs", "show", "999999"], ["jobs", "cancel", "999999"], ["jobs", "logs", "x"]):
        missing = cli(work, *args)
        assert missing.returncode == 2 and "no notebook job" in missing.stderr


def test_cancel_keeps_finished_cells(work: Path) -> None:
    notebook(work / "cancel.ipynb", "print('first')", "import time\ntime.sleep(300)", "print('x')")
    job_id = ok(
        cli(work, "submit", "cancel.ipynb", "--env", "debug", "--sbatch-arg=--time=3")
    ).strip()

    def sleeping() -> dict[str, Any] | None:
        summary = show(work, job_id)
        assert summary["state"] not in FINISHED, summary
        running = summary["state"] == "RUNNING" and summary["cells_done"] == 1
        return summary if running else None

    until(sleeping, 60, "the first cell finishes")
    limit = subprocess.run(
        ["squeue", "--noheader", f"--jobs={job_id}", "--format=%l"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert limit == "3:00"  # --sbatch-arg overrides the environment's 10 minutes
    assert ok(cli(work, "jobs", "cancel", job_id)).strip() == f"cancelled {job_id}"
    summary = ended(work, job_id, within=30)
    assert summary["state"] == "CANCELLED"

    out = load(work / "cancel.out.ipynb")
    run = out["metadata"]["adrastea"]["run"]
    assert run["status"] == "cancelled"  # saved on Slurm's SIGTERM
    assert run["error"]["ename"] == "JobCancelled" and run["error"]["cell"] == 2
    assert len(run["completed"]) == 1
    assert texts(out) == ["first\n"]
    assert "was stopped in cell 2" in "".join(out["cells"][0]["source"])
    assert "JobCancelled" in ok(cli(work, "jobs", "logs", job_id))


def test_sweep_is_one_job_array_and_resume_reruns_the_failure(work: Path) -> None:
    notebook(
        work / "grid.ipynb",
        "import adrastea, pathlib\n"
        "assert not (a == 2 and b == 3 and not pathlib.Path('fixed').exists()), 'boom'\n"
        "adrastea.record('score', a * b)",
        parameters="a = 0\nb = 0",
    )
    started = cli(
        work, "sweep", "grid.ipynb", "--grid", "a=1,2", "--grid", "b=1,2,3",
        "--env", "debug", "--out", "sweep", "--max-parallel", "3", "--wait",
    )  # fmt: skip
    assert started.returncode == 1, started.stderr  # one task fails on purpose
    job_id = started.stdout.strip()
    assert "5 done, 1 failed" in started.stderr and "boom" in started.stderr
    sweep = work / "sweep"
    manifest = json.loads((sweep / "manifest.json").read_text())
    assert manifest["job_id"] == job_id and manifest["environment"] == "debug"
    assert squeue_ids(job_id) == [f"{job_id}_{i}" for i in range(6)]
    outputs = sorted(p.name for p in sweep.glob("*.ipynb"))
    assert outputs == [task["output"] for task in manifest["tasks"]]
    assert outputs[0] == "000-a=1,b=1.ipynb" and outputs[5] == "005-a=2,b=3.ipynb"
    for name in outputs:
        load(sweep / name)

    summary = show(work, job_id)
    assert summary["kind"] == "sweep" and summary["state"] == "FAILED"
    assert summary["tasks"] == list(range(6))
    assert summary["task_states"] == {"COMPLETED": 5, "FAILED": 1}
    assert (summary["tasks_done"], summary["tasks_failed"]) == (5, 1)
    assert "task 5 (005-a=2,b=3.ipynb): failed" in ok(cli(work, "jobs", "logs", job_id))

    ok(cli(work, "sweep", "collect", "sweep"))
    rows = _rows(sweep / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["failed"]
    assert [r["score"] for r in rows[:5]] == ["1", "2", "3", "2", "4"]
    assert "boom" in rows[5]["error"]

    (work / "fixed").touch()
    before = {name: (sweep / name).stat().st_mtime_ns for name in outputs[:5]}
    resumed = cli(work, "sweep", "resume", "sweep", "--wait")
    assert resumed.returncode == 0, resumed.stderr
    assert "rerunning tasks 5" in resumed.stderr
    again = resumed.stdout.strip()
    assert again != job_id
    assert json.loads((sweep / "manifest.json").read_text())["job_id"] == again
    assert squeue_ids(again) == [f"{again}_5"]  # a new array of one task
    assert {name: (sweep / name).stat().st_mtime_ns for name in outputs[:5]} == before
    assert show(work, again)["state"] == "COMPLETED"

    ok(cli(work, "sweep", "collect", "sweep"))
    rows = _rows(sweep / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 6
    assert rows[5]["score"] == "6"
    assert ok(cli(work, "sweep", "resume", "sweep")) == ""  # nothing left to rerun


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_api_jobs_lists_submitted_jobs(work: Path, timeout_job: tuple[str, float]) -> None:
    job_id, _ = timeout_job
    root = work / "served"
    root.mkdir()
    with ServerProcess(root, env={"ADRASTEA_JOBS_DIR": str(work / "jobs")}) as server:
        jobs = httpx.get(f"{server.url}/api/jobs", headers=server.headers, timeout=30)
        assert jobs.status_code == 200, jobs.text
        by_id = {job["job_id"]: job for job in jobs.json()}
        assert by_id[job_id]["notebook"] == str(work / "walltime.ipynb")
        assert by_id[job_id]["environment"] == "minute"
        assert by_id[job_id]["state"] in {"PENDING", "RUNNING", "COMPLETING", "TIMEOUT"}
        assert all(job["state"] != "UNKNOWN" for job in by_id.values()), by_id

        one = httpx.get(f"{server.url}/api/jobs/{job_id}", headers=server.headers, timeout=30)
        assert one.status_code == 200 and one.json()["job_id"] == job_id
        logs = httpx.get(f"{server.url}/api/jobs/{job_id}/logs", headers=server.headers)
        assert logs.status_code == 200
        assert logs.headers["content-type"].startswith("text/plain")
        missing = httpx.get(f"{server.url}/api/jobs/999999", headers=server.headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        anonymous = httpx.get(f"{server.url}/api/jobs", timeout=30)
        assert anonymous.status_code == 403


def test_walltime_ends_timeout_and_the_output_resumes_locally(
    work: Path, timeout_job: tuple[str, float]
) -> None:
    job_id, submitted = timeout_job
    left = submitted + 150 - time.monotonic()  # TIMEOUT comes 69-90 s after the start
    summary = ended(work, job_id, within=max(left, 5))
    assert summary["state"] == "TIMEOUT", summary
    assert summary["cells_done"] == 1

    output = work / "walltime.out.ipynb"
    out = load(output)
    run = out["metadata"]["adrastea"]["run"]
    assert run["status"] == "timeout"  # saved on Slurm's SIGTERM at the time limit
    assert run["error"]["ename"] == "JobTimeout"
    assert texts(out) == ["a\n"]
    assert "DUE TO TIME LIMIT" in ok(cli(work, "jobs", "logs", job_id))

    (work / "short").touch()
    resumed = cli(work, "run", "walltime.ipynb", "--resume", output.name)
    assert resumed.returncode == 0, resumed.stderr
    out = load(output)
    assert out["metadata"]["adrastea"]["run"]["status"] == "completed"
    assert texts(out) == ["a\n", "c\n"]
    assert "adrastea-error" not in json.dumps([c["metadata"] for c in out["cells"]])
