"""Shared vocabulary of the kernels capability: ids, states, channels and models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NewType

from pydantic import BaseModel, ConfigDict, Field, field_serializer

__all__ = [
    "CHANNELS",
    "Channel",
    "ExecutionState",
    "KernelEnvironment",
    "KernelId",
    "KernelModel",
    "KernelSpecModel",
    "KernelSpecsModel",
    "format_timestamp",
]

KernelId = NewType("KernelId", str)
"""A kernel's id: a UUID string, stable across server restarts (re-adoption)."""

Channel = Literal["shell", "control", "stdin", "iopub"]
"""A kernel wire-protocol channel a client can talk on (``hb`` stays server-side)."""

CHANNELS: tuple[Channel, ...] = ("shell", "control", "stdin", "iopub")

ExecutionState = Literal["starting", "idle", "busy", "restarting", "dead", "unknown"]
"""What Jupyter Server reports as ``execution_state``."""


def format_timestamp(when: datetime) -> str:
    """``when`` (UTC) as Jupyter Server writes it: ``2024-05-01T12:00:00.000000Z``.

    Always with microseconds: Jupyter Server's gateway client parses
    ``last_activity`` with ``%Y-%m-%dT%H:%M:%S.%fZ`` and fails without them.
    """
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KernelEnvironment(BaseModel):
    """Where a kernel was started: an environment and the user's resolved choices."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The environment's name (see ``/api/environments``).")
    choices: dict[str, Any] = Field(
        default_factory=dict, description="The resources it got: the choices and defaults."
    )


class KernelModel(BaseModel):
    """A running kernel, in Jupyter Server's ``/api/kernels`` shape."""

    model_config = ConfigDict(frozen=True)

    id: KernelId = Field(description="The kernel's id (a UUID).")
    name: str = Field(description="Name of the kernel spec it was started from.")
    last_activity: datetime = Field(description="Last message to or from the kernel (UTC).")
    execution_state: ExecutionState = Field(description="From the kernel's status messages.")
    connections: int = Field(description="WebSocket clients attached right now.")
    reason: str | None = Field(
        None, description="Why the kernel is dead or failed to restart, when it is."
    )
    environment: KernelEnvironment | None = Field(
        None, description="The environment it was started in (None: just its kernel spec)."
    )
    job_id: str | None = Field(None, description="The Slurm job it runs in, if any.")

    @field_serializer("last_activity")
    def _serialize_last_activity(self, value: datetime) -> str:
        return format_timestamp(value)


class KernelSpecModel(BaseModel):
    """One kernel spec, in Jupyter Server's ``/api/kernelspecs`` shape."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The kernel spec's name (its folder name).")
    spec: dict[str, Any] = Field(description="The contents of its kernel.json.")
    resources: dict[str, str] = Field(
        description="Resource name (logo-64x64, kernel.js, ...) to the URL serving it."
    )


class KernelSpecsModel(BaseModel):
    """All kernel specs and the default one, in Jupyter Server's shape."""

    model_config = ConfigDict(frozen=True)

    default: str = Field(description="The kernel spec used when none is named.")
    kernelspecs: dict[str, KernelSpecModel] = Field(description="Every kernel spec, by name.")
