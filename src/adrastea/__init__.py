"""Adrastea: the interactive computing platform HPC users wish Jupyter were.

``adrastea.record(name, value)`` records a result in a running notebook
(gathered by ``adrastea sweep collect``); it is imported on first use so that
``import adrastea`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adrastea._version import __version__

if TYPE_CHECKING:
    from adrastea.batch import record

__all__ = ["__version__", "record"]


def __getattr__(name: str) -> Any:
    if name == "record":
        from adrastea.batch import record

        return record
    raise AttributeError(f"module 'adrastea' has no attribute {name!r}")
