"""Re-adoption: a kernel recorded by an earlier server, taken over by this one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase

from adrastea.kernels._kernel import Kernel
from adrastea.kernels._local import AdoptedLocalProvisioner
from adrastea.kernels._record import LOCAL_PROVISIONER, KernelRecord

__all__ = ["reattach"]

log = logging.getLogger(__name__)


async def reattach(
    record: KernelRecord,
    manager: AsyncKernelManager,
    spec: KernelSpec,
    launch_args: Mapping[str, Any],
    within: float,
) -> Kernel | None:
    """The running kernel ``record`` describes, driven by the fresh ``manager``.

    The provisioner is rebuilt from its persisted state (for local kernels,
    one that works by pid, since the process is not our child).  Returns None
    when the process is gone, or alive but silent for ``within`` seconds: a
    hung kernel, or a pid now used by someone else -- left alone either way.
    ``launch_args`` are what ``start_kernel`` would have recorded, for restarts.
    """
    manager.load_connection_info(record.connection_info)  # type: ignore[arg-type]  # a TypedDict
    provisioner: KernelProvisionerBase
    if record.provisioner_name == LOCAL_PROVISIONER:
        provisioner = AdoptedLocalProvisioner(kernel_id=record.id, kernel_spec=spec, parent=manager)
    else:
        provisioner = KernelProvisionerFactory.instance().create_provisioner_instance(
            record.id, spec, manager
        )
    await provisioner.load_provisioner_info(record.provisioner_info)
    manager.provisioner = provisioner
    # What start_kernel would have left behind, so that restart and shutdown work.
    manager._launch_args = dict(launch_args)
    manager._attempted_start = True
    if record.connection_file:
        manager.connection_file = record.connection_file
        manager._connection_file_written = True  # so that shutdown removes it
    if not await manager.is_alive():
        return None
    kernel = Kernel(
        record.id,
        record.kernel_name,
        manager,
        cwd=record.cwd,
        started=record.started,
        provisioner_name=record.provisioner_name,
        launch_env=dict(record.launch_env),
        environment=record.environment,
    )
    if await kernel.kernel_info(within) is None:
        log.warning("recorded kernel %s is running but does not answer", record.id)
        return None
    kernel.settle()
    return kernel
