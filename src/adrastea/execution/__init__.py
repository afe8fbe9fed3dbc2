"""The execution engine: cells of a notebook run in order on its kernel.

One engine serves every door (browser, REST API, ``adrastea run``, Slurm
batch jobs); what differs is the ``OutputSink`` it writes into and the
``KernelConnection`` it runs on.
"""

from __future__ import annotations

from adrastea.execution._engine import EngineStatus, NotebookEngine
from adrastea.execution._kernel import KernelConnection, ManagerConnection, start_client
from adrastea.execution._routing import CellResult
from adrastea.execution._runner import CellRunner, InputProvider
from adrastea.execution._sink import CellState, Output, OutputSink

__all__ = [
    "CellResult",
    "CellRunner",
    "CellState",
    "EngineStatus",
    "InputProvider",
    "KernelConnection",
    "ManagerConnection",
    "NotebookEngine",
    "Output",
    "OutputSink",
    "start_client",
]
