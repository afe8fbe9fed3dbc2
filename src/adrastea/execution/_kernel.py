"""The engine's view of a kernel: the ``KernelConnection`` seam."""

from __future__ import annotations

import uuid
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


def start_client(manager: Any) -> Any:
    """A new ``manager.client()`` with started channels and a session id of its own.

    jupyter_client gives every client of a manager a clone of the manager's
    session: the same session id and a message counter starting at 0, so two
    clients (or a client and the manager's own kernel_info probes) send
    requests with the *same* ``msg_id``.  The runner matches iopub messages
    by their parent's ``msg_id``, so another request's ``idle`` status would
    end a cell early and its outputs would be lost.  A fresh session id makes
    every ``msg_id`` unique; the signing key is unchanged.
    """
    client = manager.client()
    client.session.session = str(uuid.uuid4())
    client.start_channels()
    return client


class ManagerConnection:
    """A ``KernelConnection`` over a plain jupyter_client ``AsyncKernelManager``."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def client(self) -> Any:
        return start_client(self.manager)

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
