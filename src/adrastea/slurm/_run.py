"""Run one Slurm command; every way it can fail becomes a ``SlurmError``."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio

from adrastea.errors import SlurmError

log = logging.getLogger("adrastea.slurm")

#: Slurm clients retry an unresponsive controller for a while (MessageTimeout,
#: 10 s by default, times a few retries); past this we give up.
TIMEOUT = 60.0


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> str:
    """Run ``argv`` and return its stdout.

    ``env`` replaces the environment (None: inherit ours); ``SLURM_CONF`` is
    added from ours when missing, so a custom environment still finds the
    cluster.

    Raises:
        SlurmError: the command is not installed, exited non-zero (Slurm's
            stderr is the detail), or did not finish within ``TIMEOUT`` seconds.
    """
    command = tuple(str(a) for a in argv)
    if env is not None and "SLURM_CONF" in os.environ and "SLURM_CONF" not in env:
        env = {**env, "SLURM_CONF": os.environ["SLURM_CONF"]}
    log.debug("running %s", " ".join(command))
    try:
        with anyio.fail_after(TIMEOUT):
            result = await anyio.run_process(
                command, env=dict(env) if env is not None else None, cwd=cwd, check=True
            )
    except FileNotFoundError as exc:
        raise SlurmError(
            f"{command[0]} not found: is Slurm installed and on PATH?", command=command
        ) from exc
    except subprocess.CalledProcessError as exc:
        stderr = _text(exc.stderr)
        raise SlurmError(
            _message(stderr) or f"{command[0]} exited with status {exc.returncode}",
            command=command,
            returncode=exc.returncode,
            stderr=stderr,
        ) from exc
    except TimeoutError as exc:
        raise SlurmError(
            f"{command[0]} did not answer within {TIMEOUT:g} s", command=command
        ) from exc
    except OSError as exc:
        raise SlurmError(f"cannot run {command[0]}: {exc}", command=command) from exc
    return _text(result.stdout)


def _text(data: bytes | None) -> str:
    return (data or b"").decode(errors="replace")


def _message(stderr: str) -> str:
    """Slurm's last error line without the ``sbatch: error:`` prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    for prefix in ("error:", "fatal:"):
        head, sep, tail = last.partition(prefix)
        if sep and ":" not in head.rstrip(": ").strip():
            return tail.strip()
    return last
