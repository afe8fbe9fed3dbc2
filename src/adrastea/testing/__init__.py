"""Helpers for testing Adrastea and plugins against real components."""

from __future__ import annotations

from adrastea.testing._server import ServerProcess

__all__ = ["ServerProcess"]
