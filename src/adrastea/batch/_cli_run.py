"""The ``adrastea run`` command: argument handling, progress display, exit codes."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import click

from adrastea.batch._run import (
    RunOutcome,
    RunProgress,
    check_writable,
    execute_notebook,
    plan_resume,
    read_notebook,
    select_cells,
)
from adrastea.batch._sink import dump_notebook, write_atomically


def default_output(notebook: Path) -> Path:
    """``analysis.ipynb`` → ``analysis.out.ipynb`` beside it."""
    return notebook.with_name(notebook.stem + ".out.ipynb")


def prepare(
    notebook: Path,
    *,
    values: list[tuple[str, str]],
    raw: list[tuple[str, str]],
    files: list[Path],
) -> tuple[dict[str, Any], list[str]]:
    """Read ``notebook`` and inject parameters papermill's way; returns (nb, warnings)."""
    from adrastea.batch._inject import inject_parameters
    from adrastea.batch._parameters import parse_parameters

    nb = read_notebook(notebook)
    parameters = parse_parameters(values=values, raw=raw, files=files)
    if not parameters:  # papermill's CLI injects nothing without parameters
        return nb, []
    injection = inject_parameters(nb, parameters)
    nb = dict(injection.notebook)
    nb.setdefault("metadata", {}).setdefault("adrastea", {})["parameters"] = parameters
    return nb, list(injection.warnings)


class _Display:
    """A rich progress bar on a terminal, plain log lines otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Display:
        if self.tty:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    def update(self, step: RunProgress) -> None:
        cell = f"cell {step.cell_number}" if step.cell_number else ""
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=step.done,
                total=step.total,
                description=f"{self.label} {cell} {step.status}",
            )
            return
        elapsed = time.monotonic() - self.started
        print(
            f"[{elapsed:7.1f}s] {step.done}/{step.total} {cell} {step.status}",
            file=sys.stderr,
            flush=True,
        )


def run_command(
    notebook: Path,
    output: Path | None,
    *,
    values: list[tuple[str, str]],
    raw: list[tuple[str, str]],
    files: list[Path],
    kernel: str | None,
    cwd: Path | None,
    cell_timeout: float | None,
    prepare_only: bool,
    resume: Path | None,
    start_at: str | None,
    stop_after: str | None,
) -> int:
    """Run the command; returns the process exit code (0 ok, 1 cell error, 143 SIGTERM)."""
    rerun: list[str] = []
    warnings: list[str] = []
    if resume is not None:
        nb = read_notebook(resume)
        rerun, cells = plan_resume(nb)
        output = resume
    else:
        nb, warnings = prepare(notebook, values=values, raw=raw, files=files)
        output = output or default_output(notebook)
        cells = select_cells(nb, start_at, stop_after)
    check_writable(output)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if prepare_only:
        write_atomically(output, dump_notebook(nb))
        print(output)
        return 0
    workdir = cwd or notebook.parent

    async def main() -> RunOutcome:
        with _Display(notebook.name) as display:
            return await execute_notebook(
                nb,
                output,
                cells=cells,
                kernel_name=kernel,
                cwd=workdir,
                cell_timeout=cell_timeout,
                on_progress=display.update,
                rerun=rerun,
                stop_on_sigterm=True,
            )

    outcome = anyio.run(main)
    if outcome.status == "completed":
        print(f"{output}: {outcome.cells_run} cells run", file=sys.stderr)
        return 0
    if outcome.terminated:
        where = f"in cell {outcome.failed_cell}" if outcome.failed_cell else "before any cell"
        print(
            f"stopped {where}: {outcome.ename}: {outcome.evalue} (output saved to {output})",
            file=sys.stderr,
        )
        return 128 + signal.SIGTERM
    print(
        f"error: cell {outcome.failed_cell}: {outcome.ename}: {outcome.evalue}"
        f" (output saved to {output})",
        file=sys.stderr,
    )
    return 1


@click.command(
    "run",
    help="Run a notebook headless with papermill-style parameters, saving after every cell.",
)
@click.argument("notebook", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write the executed notebook (default: NOTEBOOK.out.ipynb).",
)
@click.option(
    "-p",
    "--parameter",
    "values",
    nargs=2,
    multiple=True,
    help="A parameter, typed like papermill: -p alpha 0.5.",
)
@click.option("-r", "--raw", nargs=2, multiple=True, help="A parameter kept as a string.")
@click.option(
    "-f",
    "--file",
    "files",
    type=click.Path(path_type=Path),
    multiple=True,
    help="A YAML file of parameters.",
)
@click.option("-k", "--kernel", help="Kernel name (default: the notebook's).")
@click.option(
    "--cwd",
    type=click.Path(path_type=Path, file_okay=False),
    help="Working folder of the kernel (default: the notebook's).",
)
@click.option("--timeout", type=float, help="Seconds one cell may run before it is stopped.")
@click.option("--prepare-only", is_flag=True, help="Only write the parameterised notebook.")
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    help="Continue the stopped run in this output notebook (earlier cells re-run first).",
)
@click.option("--start-at", help="First cell to run (cell id or 1-based number).")
@click.option("--stop-after", help="Last cell to run (cell id or 1-based number).")
def run_click_command(notebook: Path, **options: Any) -> None:
    from adrastea.errors import AdrasteaError

    try:
        code = run_command(
            notebook,
            options["output"],
            values=list(options["values"]),
            raw=list(options["raw"]),
            files=list(options["files"]),
            kernel=options["kernel"],
            cwd=options["cwd"],
            cell_timeout=options["timeout"],
            prepare_only=options["prepare_only"],
            resume=options["resume"],
            start_at=options["start_at"],
            stop_after=options["stop_after"],
        )
    except AdrasteaError as exc:
        click.secho(f"error: {exc.detail}", fg="red", err=True)
        sys.exit(2)
    sys.exit(code)
