"""Kernels: kernel specs, the registry of running kernels, provisioners.

``KernelRegistry`` starts kernels through jupyter_client (any installed kernel
spec), tracks their state from iopub, records them on disk so that a later
server re-adopts them, and culls idle ones.  ``Kernel`` is one of them, as
the doors (REST, WebSocket, the execution engine) see it.  ``SocketDrain``,
``DELIM`` and ``split_message`` are for code that relays raw kernel messages.
"""

from __future__ import annotations

from adrastea.kernels._drain import SocketDrain
from adrastea.kernels._kernel import Kernel, KernelEvent
from adrastea.kernels._registry import KernelRegistry
from adrastea.kernels._specs import KernelSpecCatalog
from adrastea.kernels._wire import DELIM, split_message
from adrastea.kernels.types import (
    CHANNELS,
    Channel,
    ExecutionState,
    KernelEnvironment,
    KernelId,
    KernelModel,
    KernelSpecModel,
    KernelSpecsModel,
)

__all__ = [
    "CHANNELS",
    "DELIM",
    "Channel",
    "ExecutionState",
    "Kernel",
    "KernelEnvironment",
    "KernelEvent",
    "KernelId",
    "KernelModel",
    "KernelRegistry",
    "KernelSpecCatalog",
    "KernelSpecModel",
    "KernelSpecsModel",
    "SocketDrain",
    "split_message",
]
