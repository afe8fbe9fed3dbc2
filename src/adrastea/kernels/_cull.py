"""Culling idle kernels, with Jupyter Server's rules (cull_idle_timeout and friends)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

import anyio

from adrastea.config import KernelSettings
from adrastea.kernels._kernel import Kernel
from adrastea.kernels.types import KernelId

__all__ = ["cull_forever", "should_cull"]

log = logging.getLogger(__name__)


def should_cull(kernel: Kernel, settings: KernelSettings, now: datetime) -> bool:
    """Whether ``kernel`` is to be shut down now.

    Dead kernels always are.  Others when idle longer than the timeout (a
    kernel spec may set its own ``cull_idle_timeout`` in its metadata, as in
    Jupyter Server), not busy unless ``cull_busy``, without clients unless
    ``cull_connected``.  Kernels still starting or restarting are left alone.
    """
    state = kernel.execution_state
    if state == "dead":
        return True
    if state in ("starting", "restarting"):
        return False
    timeout = settings.cull_idle_timeout
    spec = kernel.manager.kernel_spec
    if spec is not None:
        timeout = float(spec.metadata.get("cull_idle_timeout", timeout))
    if timeout <= 0:
        return False
    idle = (now - kernel.last_activity).total_seconds() > timeout
    return (
        idle
        and (settings.cull_busy or state != "busy")
        and (settings.cull_connected or kernel.connections == 0)
    )


async def cull_forever(
    kernels: Callable[[], Iterable[Kernel]],
    shutdown: Callable[[KernelId], Awaitable[None]],
    settings: KernelSettings,
) -> None:
    """Every ``cull_interval`` seconds, shut down the kernels ``should_cull`` picks."""
    log.info(
        "culling kernels idle for %ss, checking every %ss",
        settings.cull_idle_timeout,
        settings.cull_interval,
    )
    while True:
        await anyio.sleep(settings.cull_interval)
        now = datetime.now(UTC)
        for kernel in list(kernels()):
            if kernel.stopping.is_set() or not should_cull(kernel, settings, now):
                continue
            log.warning(
                "culling %s kernel %s (%s), idle since %s with %d connections",
                kernel.execution_state,
                kernel.id,
                kernel.name,
                kernel.last_activity.isoformat(),
                kernel.connections,
            )
            try:
                await shutdown(kernel.id)
            except Exception:
                log.exception("culling kernel %s failed", kernel.id)
