"""Submit notebook runs and sweeps to Slurm in an environment's resources."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio

from adrastea.batch._jobs import (
    JobRecord,
    batch_script,
    link_job_folder,
    new_job_folder,
    now,
    python_command,
    save_job,
)
from adrastea.batch._manifest import SweepManifest
from adrastea.batch._run import RunError
from adrastea.errors import BadRequest

#: How often ``wait_for_job`` asks Slurm (slurm-notes: ``sbatch --wait`` is up to 10 s late).
POLL_INTERVAL = 1.0


def slurm_environment(name: str, config: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """(environment, resolved resources) of a configured Slurm environment.

    Raises:
        ConfigError: the config file is unreadable or invalid.
        EnvironmentNotFound: no such environment.
        BadRequest: the environment does not run in Slurm.
    """
    from adrastea.config import load_settings
    from adrastea.kernels._environments import EnvironmentCatalog

    env = EnvironmentCatalog(load_settings(config), ()).get(name)
    if env.placement != "slurm" or env.slurm is None:
        raise BadRequest(f"environment {name!r} does not run in Slurm (placement {env.placement})")
    return env, env.resolve({})


def _submit(script_text: str, folder: Path, sbatch_args: list[str]) -> str:
    from adrastea.slurm import sbatch

    script = folder / "job.sh"
    script.write_text(script_text)
    return anyio.run(lambda: sbatch(script, options=sbatch_args))


def submit_run(
    notebook: Path,
    output: Path,
    run_args: list[str],
    *,
    environment: str,
    sbatch_args: list[str],
    config: Path | None = None,
) -> JobRecord:
    """Submit ``adrastea run NOTEBOOK -o OUTPUT RUN_ARGS`` as a batch job; returns its record.

    Raises:
        SlurmError: sbatch refused the job; nothing is left behind.
    """
    env, resources = slurm_environment(environment, config)
    folder = new_job_folder(notebook.stem)
    command = python_command(
        "run", str(notebook.resolve()), "-o", str(output.resolve()),
        "--kernel", env.kernelspec, *run_args,
    )  # fmt: skip
    text = batch_script(
        command,
        resources=resources,
        extra_sbatch=list(env.slurm.extra_sbatch),
        setup=list(env.slurm.setup),
        job_name=f"adrastea-{notebook.stem}"[:64],
        log=folder / "slurm.log",
        cwd=notebook.resolve().parent,
    )
    try:
        job_id = _submit(text, folder, sbatch_args)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    link_job_folder(job_id, folder)
    record = JobRecord(
        job_id=job_id,
        kind="run",
        notebook=str(notebook.resolve()),
        output=str(output.resolve()),
        environment=environment,
        submitted=now(),
        script=str(folder / "job.sh"),
        log=str(folder / "slurm.log"),
    )
    save_job(record)
    return record


def array_spec(indices: list[int], max_parallel: int) -> str:
    """Slurm's ``--array`` value: ``0-5%3``, or ``1,4%3`` for scattered tasks."""
    if not indices:
        raise RunError("no tasks to submit")
    if indices == list(range(indices[0], indices[-1] + 1)):
        spec = f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else str(indices[0])
    else:
        spec = ",".join(str(i) for i in indices)
    return f"{spec}%{max(1, max_parallel)}"


def submit_array(
    manifest: SweepManifest,
    out: Path,
    indices: list[int],
    *,
    max_parallel: int,
    config: Path | None = None,
) -> str:
    """Submit the sweep's ``indices`` as ONE job array; records the job id in the manifest.

    Each task runs ``adrastea sweep task OUT`` with the environment's kernel;
    Slurm writes task ``i``'s log to ``OUT/logs/JOBID_i.log``.
    """
    if not manifest.environment or not manifest.notebook:
        raise RunError("this sweep has no environment to submit to")
    env, resources = slurm_environment(manifest.environment, config)
    out = out.resolve()
    command = python_command("sweep", "task", str(out), "--kernel", env.kernelspec)
    (out / "logs").mkdir(exist_ok=True)
    text = batch_script(
        command,
        resources=resources,
        extra_sbatch=list(env.slurm.extra_sbatch),
        setup=list(env.slurm.setup),
        job_name=f"adrastea-sweep-{Path(manifest.notebook).stem}"[:64],
        log=out / "logs" / "%A_%a.log",
        cwd=Path(manifest.notebook).parent,
        array=array_spec(indices, max_parallel),
    )
    job_id = _submit(text, out, [])
    manifest.with_job(job_id).save(out)
    save_job(
        JobRecord(
            job_id=job_id,
            kind="sweep",
            notebook=manifest.notebook,
            output=str(out),
            environment=manifest.environment,
            submitted=now(),
            script=str(out / "job.sh"),
            log=str(out / "logs"),
            tasks=tuple(indices),
        )
    )
    return job_id


async def job_active(job_id: str) -> bool:
    """Whether any task of the job is still pending or running in Slurm."""
    from adrastea.slurm import JobId, squeue

    jobs = await squeue([JobId(job_id)])
    return any(not info.is_finished for info in jobs.values())


async def wait_for_job(job_id: str, poll: float = POLL_INTERVAL) -> None:
    """Return once no task of the job is pending or running (Slurm has no event to wait on)."""
    while True:
        if not await job_active(job_id):
            return
        await anyio.sleep(poll)
