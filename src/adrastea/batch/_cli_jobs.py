"""``adrastea submit`` and ``adrastea jobs``: notebook runs as Slurm batch jobs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import click

from adrastea.batch._jobs import (
    JobRecord,
    JobStatus,
    job_states,
    job_summary,
    load_job,
    load_jobs,
    read_logs,
)
from adrastea.errors import AdrasteaError


def _fail(exc: AdrasteaError) -> None:
    click.secho(f"error: {exc.detail}", fg="red", err=True)
    sys.exit(2)


@click.command(
    "submit", help="Submit a Slurm batch job that runs the notebook with `adrastea run`."
)
@click.argument("notebook", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output notebook.")
@click.option("-p", "--parameter", "values", nargs=2, multiple=True, help="A parameter.")
@click.option("-r", "--raw", nargs=2, multiple=True, help="A parameter kept as a string.")
@click.option("-f", "--file", "files", multiple=True, type=click.Path(path_type=Path))
@click.option("--env", "environment", required=True, help="A Slurm environment.")
@click.option("--sbatch-arg", "sbatch_args", multiple=True, help="Extra sbatch argument.")
@click.option("--timeout", type=float, help="Seconds one cell may run.")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML config file defining the environment (default: ./adrastea.toml, then the user's).",
)
def submit_command(notebook: Path, **options: Any) -> None:
    from adrastea.batch._cli_run import default_output, prepare
    from adrastea.batch._run import check_writable
    from adrastea.batch._submit import submit_run

    output = options["output"] or default_output(notebook)
    run_args: list[str] = []
    for name, value in options["values"]:
        run_args += ["-p", name, value]
    for name, value in options["raw"]:
        run_args += ["-r", name, value]
    for path in options["files"]:
        run_args += ["-f", str(Path(path).resolve())]
    if options["timeout"] is not None:
        run_args += ["--timeout", str(options["timeout"])]
    try:
        # Check everything here, before the job waits in the queue.
        _, warnings = prepare(
            notebook, values=list(options["values"]), raw=list(options["raw"]),
            files=list(options["files"]),
        )  # fmt: skip
        check_writable(output)
        record = submit_run(
            notebook,
            output,
            run_args,
            environment=options["environment"],
            sbatch_args=list(options["sbatch_args"]),
            config=options["config"],
        )
    except AdrasteaError as exc:
        _fail(exc)
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(record.job_id)
    click.echo(f"output: {record.output}", err=True)


def _state(records: list[JobRecord]) -> dict[str, JobStatus]:
    try:
        return anyio.run(job_states, records)
    except AdrasteaError as exc:
        _fail(exc)
        return {}


def _progress(summary: dict[str, Any]) -> str:
    if summary["kind"] == "sweep":
        done, total = summary.get("tasks_done"), summary.get("tasks_total")
    else:
        done, total = summary.get("cells_done"), summary.get("cells_total")
    return f"{done}/{total}" if total is not None else "-"


@click.group("jobs", invoke_without_command=True, help="List and manage notebook jobs.")
@click.pass_context
def jobs_command(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is not None:
        return
    records = load_jobs()
    if not records:
        click.echo("no notebook jobs")
        return
    states = _state(records)
    click.echo(f"{'JOB':>10}  {'KIND':<5} {'STATE':<11} {'PROGRESS':<9} NOTEBOOK")
    for record in records:
        summary = job_summary(record, states.get(record.job_id))
        click.echo(
            f"{record.job_id:>10}  {record.kind:<5} {summary['state']:<11} "
            f"{_progress(summary):<9} {record.notebook}"
        )


@jobs_command.command("show", help="Everything about one job.")
@click.argument("job_id")
def show_command(job_id: str) -> None:
    import json

    try:
        record = load_job(job_id)
    except AdrasteaError as exc:
        _fail(exc)
        return
    info = _state([record]).get(record.job_id)
    click.echo(json.dumps(job_summary(record, info), indent=1))


@jobs_command.command("cancel", help="Cancel a job (its output keeps every finished cell).")
@click.argument("job_id")
def cancel_command(job_id: str) -> None:
    from adrastea.slurm import JobId, scancel

    try:
        load_job(job_id)
        anyio.run(lambda: scancel(JobId(job_id)))
    except AdrasteaError as exc:
        _fail(exc)
        return
    click.echo(f"cancelled {job_id}")


@jobs_command.command("logs", help="Print the job's Slurm log.")
@click.argument("job_id")
def logs_command(job_id: str) -> None:
    try:
        record = load_job(job_id)
    except AdrasteaError as exc:
        _fail(exc)
        return
    click.echo(read_logs(record), nl=False)
