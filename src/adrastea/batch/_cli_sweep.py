"""The ``adrastea sweep`` commands: start, collect, resume."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import anyio
import click

from adrastea.errors import AdrasteaError


class _SweepGroup(click.Group):
    """``adrastea sweep NOTEBOOK …`` starts a sweep; ``collect``/``resume`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


_CONFIG = click.Path(path_type=Path, dir_okay=False)


def _fail(exc: AdrasteaError) -> None:
    click.secho(f"error: {exc.detail}", fg="red", err=True)
    sys.exit(2)


def _say(line: str) -> None:
    click.echo(line, err=True)


@click.group(
    "sweep",
    cls=_SweepGroup,
    help="Run a notebook once per point of a parameter grid, and gather the results.\n\n"
    "  adrastea sweep NOTEBOOK --grid alpha=0.1,0.2 --out DIR [--env ENV]\n"
    "  adrastea sweep collect DIR\n"
    "  adrastea sweep resume DIR",
)
def sweep_command() -> None:
    pass


@sweep_command.command("start", help="Start a sweep (the default: `adrastea sweep NOTEBOOK`).")
@click.argument("notebook", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--grid", "grids", multiple=True, help="NAME=V1,V2,… values to sweep.")
@click.option("--zip", "zip_", is_flag=True, help="Zip the value lists instead of crossing them.")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A YAML grid file: name: [values].",
)
@click.option("-p", "--parameter", "values", nargs=2, multiple=True, help="A fixed parameter.")
@click.option("--env", "environment", help="Run as one Slurm job array in this environment.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Sweep folder.")
@click.option("--max-parallel", default=4, show_default=True, help="Tasks running at once.")
@click.option("--wait", is_flag=True, help="With --env: wait until every task ended.")
@click.option("-k", "--kernel", help="Kernel name (default: the notebook's).")
@click.option("--config", type=_CONFIG, help="TOML config file defining the environment.")
def start(notebook: Path, **options: Any) -> None:  # fmt: skip
    from adrastea.batch._grid import build_grid
    from adrastea.batch._manifest import SweepManifest
    from adrastea.batch._parameters import parse_parameters
    from adrastea.batch._sweep import check_out_dir, prepare_task

    try:
        grid = build_grid(options["grids"], files=options["files"])
        base = parse_parameters(values=options["values"])
        manifest = SweepManifest.plan(grid, zip=options["zip_"], notebook=str(notebook.resolve()))
        manifest = manifest.model_copy(
            update={"environment": options["environment"], "parameters": base}
        )
        prepare_task(notebook, {**base, **manifest.tasks[0].params})  # fail fast on bad input
        if options["environment"]:
            from adrastea.batch._submit import slurm_environment

            slurm_environment(options["environment"], options["config"])
        out: Path = options["out"]
        check_out_dir(out)
        manifest.save(out)
    except AdrasteaError as exc:
        _fail(exc)
        return
    _say(f"sweep of {len(manifest.tasks)} tasks in {out}")
    _launch(manifest, out, list(range(len(manifest.tasks))), options)


def _launch(manifest: Any, out: Path, indices: list[int], options: dict[str, Any]) -> None:
    """Run ``indices`` locally, or submit them as one job array (and maybe wait)."""
    from adrastea.batch._sweep import run_local

    if manifest.environment:
        from adrastea.batch._submit import submit_array, wait_for_job

        try:
            job_id = submit_array(
                manifest,
                out,
                indices,
                max_parallel=options["max_parallel"],
                config=options.get("config"),
            )
            click.echo(job_id)
            if not options.get("wait"):
                return
            anyio.run(wait_for_job, job_id)
            final = _refreshed(out)
        except AdrasteaError as exc:
            _fail(exc)
            return
        _summary([final.tasks[i] for i in indices], details=True)
    notebook = Path(manifest.notebook)
    final = anyio.run(
        lambda: run_local(
            notebook,
            out,
            manifest,
            indices=indices,
            max_parallel=options["max_parallel"],
            kernel=options.get("kernel"),
            report=_say,
        )
    )
    _summary(list(final.tasks), details=False)


def _refreshed(out: Path) -> Any:
    from adrastea.batch._manifest import SweepManifest
    from adrastea.batch._sweep import refresh

    manifest = refresh(SweepManifest.load(out), out)
    manifest.save(out)
    return manifest


def _summary(tasks: list[Any], *, details: bool) -> NoReturn:
    """Print how the tasks ended and exit: 1 if any did not finish well."""
    from adrastea.batch._manifest import TaskState

    bad = [t for t in tasks if t.state is not TaskState.DONE]
    for task in bad if details else ():
        _say(f"task {task.index}: {task.state}" + (f": {task.error}" if task.error else ""))
    _say(f"{len(tasks) - len(bad)} done, {len(bad)} failed")
    sys.exit(1 if bad else 0)


@sweep_command.command("collect", help="Gather parameters and recorded results into tables.")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
def collect_command(out: Path) -> None:
    from adrastea.batch import collect, write_csv, write_parquet, write_report
    from adrastea.batch._manifest import SweepManifest
    from adrastea.batch._sweep import refresh

    try:
        manifest = SweepManifest.load(out)
        refresh(manifest, out).save(out)
        table = collect(out)
    except AdrasteaError as exc:
        _fail(exc)
        return
    written = [write_csv(table, out / "results.csv")]
    if write_parquet(table, out / "results.parquet"):
        written.append(out / "results.parquet")
    written.append(write_report(table, out / "report.html"))
    for path in written:
        click.echo(path)


@sweep_command.command("resume", help="Rerun only the tasks that failed or never finished.")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option("--max-parallel", default=4, show_default=True, help="Tasks running at once.")
@click.option("--wait", is_flag=True, help="In Slurm: wait until every rerun task ended.")
@click.option("-k", "--kernel", help="Kernel name for local tasks (default: the notebook's).")
@click.option("--config", type=_CONFIG, help="TOML config file defining the environment.")
def resume_command(out: Path, **options: Any) -> None:
    from adrastea.batch._manifest import SweepManifest
    from adrastea.batch._sweep import refresh, to_rerun

    try:
        manifest = SweepManifest.load(out)
        if manifest.environment and manifest.job_id:
            _refuse_while_active(manifest.job_id)
        manifest = refresh(manifest, out)
        manifest.save(out)
    except AdrasteaError as exc:
        _fail(exc)
        return
    indices = to_rerun(manifest)
    if not indices:
        _say("every task is done; nothing to resume")
        return
    _say(f"rerunning tasks {', '.join(map(str, indices))}")
    _launch(manifest, out, indices, options)


def _refuse_while_active(job_id: str) -> None:
    """Refuse to rerun tasks that the sweep's job array may still be running."""
    from adrastea.batch._run import RunError
    from adrastea.batch._submit import job_active

    if anyio.run(job_active, job_id):
        raise RunError(
            f"job {job_id} of this sweep is still running; wait for it, or stop it "
            f"with `adrastea jobs cancel {job_id}`"
        )


@sweep_command.command("task", hidden=True, help="Run one task (used inside a job array).")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.argument("index", type=int, required=False)
@click.option("-k", "--kernel", help="Kernel name (default: the notebook's).")
def task_command(out: Path, index: int | None, kernel: str | None) -> None:
    import os

    from adrastea.batch._manifest import SweepManifest
    from adrastea.batch._run import execute_notebook, select_cells
    from adrastea.batch._sweep import prepare_task

    if index is None:
        index = int(os.environ["SLURM_ARRAY_TASK_ID"])
    try:
        manifest = SweepManifest.load(out)
        task = manifest.tasks[index]
        assert manifest.notebook is not None
        notebook = Path(manifest.notebook)
        nb = prepare_task(notebook, {**manifest.parameters, **task.params})
        outcome = anyio.run(
            lambda: execute_notebook(
                nb,
                out / task.output,
                cells=select_cells(nb, None, None),
                kernel_name=kernel,
                cwd=notebook.parent,
                stop_on_sigterm=True,
            )
        )
    except AdrasteaError as exc:
        _fail(exc)
        return
    ending = f": {outcome.ename}: {outcome.evalue}" if outcome.ename else ""
    _say(f"task {index} ({task.output}): {outcome.status}{ending}")
    sys.exit(0 if outcome.status == "completed" else 1)
