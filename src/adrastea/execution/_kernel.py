"""The engine's view of a kernel: the ``KernelConnection`` seam."""

from __future__ import annotations

from typing import Any, Protocol


class KernelConnection(Protocol):
    """A running kernel the engine can talk to, wherever it runs.

    ``client()`` returns a *new* started ``AsyncKernelClient`` (channels
    started); the engine owns it and stops its channels.  ``death_reason()``
    returns None while the kernel is alive, else why it is gone (e.g.
    ``"kernel process exited"`` or Slurm's ``"TIMEOUT"``); it is polled about
    once a second while a cell runs.
    """

    def client(self) -> Any: ...

    async def wait_ready(self) -> None:
        """Return once the kernel can take requests (e.g. its Slurm job started)."""

    async def death_reason(self) -> str | None: ...

    async def interrupt(self) -> None: ...

    async def restart(self) -> None: ...


class ManagerConnection:
    """A ``KernelConnection`` over a plain jupyter_client ``AsyncKernelManager``."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def client(self) -> Any:
        client = self.manager.client()
        client.start_channels()
        return client

    async def wait_ready(self) -> None:
        return None

    async def death_reason(self) -> str | None:
        if await self.manager.is_alive():
            return None
        return "the kernel process exited"

    async def interrupt(self) -> None:
        await self.manager.interrupt_kernel()

    async def restart(self) -> None:
        await self.manager.restart_kernel(now=True)
