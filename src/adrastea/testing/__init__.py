"""Helpers for testing Adrastea and plugins against real components."""

from __future__ import annotations

from adrastea.testing._browser import CHROMIUM_ARGS
from adrastea.testing._server import ServerProcess
from adrastea.testing._yclient import YClient, connect_document

__all__ = ["CHROMIUM_ARGS", "ServerProcess", "YClient", "connect_document"]
