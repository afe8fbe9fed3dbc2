"""The ``adrastea`` script's entry point: a fast path for ``adrastea run``.

``adrastea run`` is what every sweep point and batch job starts, so its
start-up time is paid thousands of times: it goes straight to its click
command, without importing typer and building the whole command tree
(about 0.2 s).  Everything else goes through :func:`adrastea.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``adrastea`` command line with ``sys.argv``."""
    if sys.argv[1:2] == ["run"]:
        from adrastea.batch._cli_run import run_click_command

        run_click_command.main(args=sys.argv[2:], prog_name="adrastea run")
        return
    from adrastea.cli import main as full_main

    full_main()
