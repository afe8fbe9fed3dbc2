"""Submit notebook runs and sweeps to Slurm in an environment's resources."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import anyio

from adrastea.batch._jobs import JobRecord, batch_script, jobs_dir, now, python_command, save_job
from adrastea.batch._manifest import SweepManifest
from adrastea.batch._run import RunError
from adrastea.errors import BadRequest


def slurm_environment(name: str) -> tuple[Any, dict[str, Any]]:
    """(environment, resolved resources) of a configured Slurm environment."""
    from adrastea.config import load_settings
    from adrastea.kernels._environments import EnvironmentCatalog

    env = EnvironmentCatalog(load_settings(), ()).get(name)
    if env.placement != "slurm" or env.slurm is None:
        raise BadRequest(f"environment {name!r} does not run in Slurm (placement {env.placement})")
    return env, env.resolve({})


def _submit(script_text: str, folder: Path, sbatch_args: list[str]) -> str:
    from adrastea.slurm import sbatch

    folder.mkdir(parents=True, exist_ok=True)
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
) -> JobRecord:
    """Submit ``adrastea run NOTEBOOK -o OUTPUT RUN_ARGS`` as a batch job; returns its record."""
    env, resources = slurm_environment(environment)
    staging = jobs_dir() / f"pending-{notebook.stem}-{now()}"
    command = python_command(
        "run", str(notebook.resolve()), "-o", str(output.resolve()),
        "--kernel", env.kernelspec, *run_args,
    )  # fmt: skip
    log = staging / "slurm.log"
    text = batch_script(
        command,
        resources=resources,
        extra_sbatch=list(env.slurm.extra_sbatch),
        setup=list(env.slurm.setup),
        job_name=f"adrastea-{notebook.stem}"[:64],
        log=log,
        cwd=notebook.resolve().parent,
    )
    job_id = _submit(text, staging, sbatch_args)
    folder = jobs_dir() / job_id
    staging.rename(folder)
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
    # The script names the staging log path; point it at the final folder.
    (folder / "job.sh").write_text(text.replace(str(log), str(folder / "slurm.log")))
    save_job(record)
    return record


def submit_array(
    manifest: SweepManifest, out: Path, indices: list[int], *, max_parallel: int
) -> str:
    """Submit the sweep's ``indices`` as ONE job array; records the job id in the manifest."""
    if not manifest.environment or not manifest.notebook:
        raise RunError("this sweep has no environment to submit to")
    env, resources = slurm_environment(manifest.environment)
    out = out.resolve()
    array = ",".join(str(i) for i in indices)
    if indices == list(range(indices[0], indices[-1] + 1)):
        array = f"{indices[0]}-{indices[-1]}"
    array += f"%{max(1, max_parallel)}"
    command = python_command("sweep", "task", str(out))
    text = batch_script(
        command,
        resources=resources,
        extra_sbatch=list(env.slurm.extra_sbatch),
        setup=list(env.slurm.setup),
        job_name=f"adrastea-sweep-{Path(manifest.notebook).stem}"[:64],
        log=out / "logs" / "task-%a.log",
        cwd=Path(manifest.notebook).parent,
        array=array,
    )
    (out / "logs").mkdir(exist_ok=True)
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
        )
    )
    return job_id


async def wait_for_job(job_id: str, poll: float = 2.0) -> None:
    """Return once no task of the job is pending or running."""
    from adrastea.slurm import JobId, squeue

    while True:
        jobs = await squeue([JobId(job_id)])
        if not any(not info.is_finished for info in jobs.values()):
            return
        await anyio.sleep(poll)


def describe_command(record: JobRecord) -> str:
    return shlex.join(["adrastea", "jobs", "show", record.job_id])
