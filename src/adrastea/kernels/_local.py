"""A local provisioner that can take over a kernel another server process started.

jupyter_client's ``LocalProvisioner`` only knows kernels it launched itself (it
holds their ``Popen``).  After a server crash, the kernel is still running but
is no longer our child: this subclass polls, signals and kills it by the pid
and process group recorded at launch.  Once it launches a process itself (a
restart), it behaves exactly like ``LocalProvisioner``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

__all__ = ["AdoptedLocalProvisioner", "process_running"]


class AdoptedLocalProvisioner(LocalProvisioner):
    """``LocalProvisioner`` for a kernel process found by pid, not launched by us."""

    _adopted_pid: int | None = None

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        """Take over the process recorded by ``get_provisioner_info``."""
        await super().load_provisioner_info(provisioner_info)
        self._adopted_pid = self.pid
        # The kernel manager already holds the recorded ports: a restart must
        # reuse them, since connected clients are wired to them.
        self.ports_cached = True

    @property
    def has_process(self) -> bool:
        return self.process is not None or self._adopted_pid is not None

    async def poll(self) -> int | None:
        if self.process is not None or self._adopted_pid is None:
            return await super().poll()
        if process_running(self._adopted_pid):
            return None
        self._adopted_pid = None
        return 0

    async def wait(self) -> int | None:
        if self.process is not None or self._adopted_pid is None:
            return await super().wait()
        # Not our child: nothing to wait(2) on, so poll like LocalProvisioner does.
        while await self.poll() is None:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        return 0

    async def send_signal(self, signum: int) -> None:
        if self.process is not None or self._adopted_pid is None:
            await super().send_signal(signum)
            return
        if self.pgid:
            try:
                os.killpg(self.pgid, signum)
                return
            except OSError:
                pass  # fall back to the process alone, like LocalProvisioner
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._adopted_pid, signum)

    async def kill(self, restart: bool = False) -> None:
        if self.process is not None or self._adopted_pid is None:
            await super().kill(restart)
            return
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self.process is not None or self._adopted_pid is None:
            await super().terminate(restart)
            return
        await self.send_signal(signal.SIGTERM)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        self._adopted_pid = None
        return await super().launch_kernel(cmd, **kwargs)


def process_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[0:1] != ["Z"]
