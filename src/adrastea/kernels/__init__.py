"""Kernels: kernelspecs, the registry of running kernels, provisioners."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from adrastea.config import KernelSettings

__all__ = ["KernelRegistry"]


class KernelRegistry:
    """PLACEHOLDER: being written."""

    def __init__(self, settings: KernelSettings, state_dir: Path, root: Path) -> None:
        self.settings = settings

    async def __aenter__(self) -> KernelRegistry:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def list(self) -> list[Any]:
        return []

    def last_activity(self) -> datetime:
        return datetime.now(UTC)

    def connection_count(self) -> int:
        return 0
