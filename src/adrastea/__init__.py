"""Adrastea: the interactive computing platform HPC users wish Jupyter were."""

from __future__ import annotations

from adrastea._version import __version__

__all__ = ["__version__"]
