"""The ``adrastea`` command line.

Heavy imports (FastAPI, jupyter_client, nbformat) happen inside commands so
that ``adrastea --help`` and ``adrastea run`` start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from adrastea._version import __version__

app = typer.Typer(
    name="adrastea",
    help="Adrastea: Jupyter notebooks and kernels, at home on HPC clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config file (default: ./adrastea.toml, then the user's)."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one setting: --set kernels.startup_timeout=60."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adrastea {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Adrastea: Jupyter notebooks and kernels, at home on HPC clusters."""


def _settings(config: Path | None, sets: list[str] | None, flags: dict[str, Any]) -> Any:
    from adrastea.config import load_settings, parse_overrides
    from adrastea.errors import ConfigError

    try:
        overrides = parse_overrides(sets or [])
        for dotted, value in flags.items():
            if value is not None:
                section, key = dotted.split(".")
                overrides.setdefault(section, {})[key] = value
        return load_settings(config, overrides)
    except ConfigError as exc:
        typer.secho(f"error: {exc.detail}", fg="red", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    root_dir: Annotated[
        Path | None, typer.Argument(help="Folder to serve (default: the current one).")
    ] = None,
    ip: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (0: any free).")] = None,
    token: Annotated[str | None, typer.Option(help="Access token (default: random).")] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a web browser.")
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Serve notebooks, files and kernels from ROOT_DIR over HTTP."""
    from adrastea.server._serve import run_server

    if root_dir is not None and not root_dir.is_dir():
        typer.secho(f"error: not a folder: {root_dir}", fg="red", err=True)
        raise typer.Exit(2)
    settings = _settings(
        config,
        set_,
        {
            "server.root_dir": str(root_dir) if root_dir is not None else None,
            "server.ip": ip,
            "server.port": port,
            "server.token": token,
            "server.open_browser": False if no_browser else None,
        },
    )
    run_server(settings)


@app.command()
def report(
    notebook: Annotated[Path, typer.Argument(help="An executed notebook.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Where to write the page (default: NB.html).")
    ] = None,
) -> None:
    """Render an executed notebook to a static HTML report (nbconvert)."""
    from adrastea.batch._html import render_html
    from adrastea.errors import AdrasteaError

    try:
        typer.echo(render_html(notebook, html))
    except AdrasteaError as exc:
        typer.secho(f"error: {exc.detail}", fg="red", err=True)
        raise typer.Exit(2) from exc


@app.command()
def envs(config: ConfigOption = None, set_: SetOption = None) -> None:
    """List the environments kernels can run in (kernelspec + place + choices)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from rich.console import Console
    from rich.table import Table

    from adrastea.kernels._environments import EnvironmentCatalog

    settings = _settings(config, set_, {})
    catalog = EnvironmentCatalog(settings, KernelSpecManager().find_kernel_specs())
    table = Table("name", "kernelspec", "placement", "resources and choices")
    for env in catalog.all():
        fields = []
        for name, schema in env.form_schema()["properties"].items():
            if "const" in schema:
                fields.append(f"{name}={schema['const']}")
            elif "enum" in schema:
                fields.append(f"{name} in {schema['enum']} (default {schema.get('default')})")
            else:
                bounds = f"{schema.get('minimum', '')}..{schema.get('maximum', '')}"
                fields.append(f"{name} {bounds} (default {schema.get('default')})")
        table.add_row(env.name, env.kernelspec, env.placement, "; ".join(fields) or "-")
    Console().print(table)


@config_app.command("show")
def config_show(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Print the effective configuration as TOML (file, then environment, then --set)."""
    import tomli_w

    settings = _settings(config, set_, {})
    data = settings.model_dump(mode="json", exclude_none=True)
    typer.echo(tomli_w.dumps(data).rstrip())


def main() -> None:
    """Entry point of the ``adrastea`` script."""
    import click

    from adrastea.batch._cli_jobs import jobs_command, submit_command
    from adrastea.batch._cli_run import run_click_command
    from adrastea.batch._cli_sweep import sweep_command

    # typer cannot declare papermill's repeatable two-value options (-p NAME
    # VALUE), so `run` is a plain click command added to typer's group.
    group = typer.main.get_group(app)
    group.add_command(cast(Any, run_click_command), "run")  # typer vendors its own click
    group.add_command(cast(Any, sweep_command), "sweep")
    group.add_command(cast(Any, submit_command), "submit")
    group.add_command(cast(Any, jobs_command), "jobs")
    try:
        group(prog_name="adrastea")
    # typer's group only handles its own (vendored) click's exceptions; the
    # batch commands raise the real click's, e.g. for --help or a bad option.
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
