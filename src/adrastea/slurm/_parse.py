"""Slurm's text conventions: durations, timestamps, exit codes, empty values."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

# What squeue/sacct print for "no value".
_NONE = {
    "",
    "(NULL)",
    "N/A",
    "NONE",
    "NOT_SET",
    "UNKNOWN",
    "INVALID",
    "UNLIMITED",
    "PARTITION_LIMIT",
}

_DURATION = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def text(value: str) -> str | None:
    """The value, or None for Slurm's empty markers (``N/A``, ``None``, ...)."""
    value = value.strip()
    return None if value.upper() in _NONE else value


def duration(value: str, *, bare_unit: str = "minutes") -> timedelta | None:
    """A Slurm duration: ``[D-]HH:MM:SS``, ``MM:SS``, ``D-HH``, or a bare number.

    A bare number is minutes where Slurm means a time *limit* (``sbatch --time=5``,
    ``sacct -c``'s Timelimit) and seconds elsewhere (``bare_unit="seconds"``).
    None for ``UNLIMITED``, ``N/A``, ``INVALID`` and other non-values.
    """
    value = value.strip()
    if text(value) is None:
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    days = int(match["d"] or 0)
    parts = [int(p) for p in (match["a"], match["b"], match["c"]) if p is not None]
    if len(parts) == 1:
        if match["d"] is not None:  # D-HH
            return timedelta(days=days, hours=parts[0])
        return timedelta(**{bare_unit: parts[0]})
    if len(parts) == 2:
        if match["d"] is not None:  # D-HH:MM
            return timedelta(days=days, hours=parts[0], minutes=parts[1])
        return timedelta(minutes=parts[0], seconds=parts[1])
    return timedelta(days=days, hours=parts[0], minutes=parts[1], seconds=parts[2])


def timestamp(value: str) -> datetime | None:
    """A Slurm timestamp (``2026-11-26T10:18:05``, the local time zone), made aware."""
    value = value.strip()
    if text(value) is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.year < 1980:  # 0 / "1970-01-01T..." means unset
        return None
    return parsed.astimezone() if parsed.tzinfo is None else parsed


def wait_status(value: str) -> tuple[int | None, int | None]:
    """``(exit_code, signal)`` from squeue's ``exit_code`` (a raw wait status)."""
    value = value.strip()
    if not value.isdigit():
        return None, None
    status = int(value)
    signal = status & 0x7F
    return (status >> 8) & 0xFF, signal or None


def exit_pair(value: str) -> tuple[int | None, int | None]:
    """``(exit_code, signal)`` from sacct's ``ExitCode`` (``"3:0"``)."""
    code, _, sig = value.strip().partition(":")
    if not code.isdigit():
        return None, None
    return int(code), (int(sig) or None) if sig.isdigit() else None
