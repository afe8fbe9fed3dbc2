"""Persisted kernel records: what a later server needs to re-adopt a running kernel.

One JSON file per kernel, ``STATE_DIR/kernels/<id>.json``, replaced atomically
(temp file, fsync, ``os.replace``) so a crash leaves either the old record or
the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adrastea.kernels.types import KernelEnvironment, KernelId

if TYPE_CHECKING:
    from adrastea.kernels._kernel import Kernel

__all__ = ["LOCAL_PROVISIONER", "KernelRecord", "RecordStore", "provisioner_name", "record_of"]

log = logging.getLogger(__name__)

LOCAL_PROVISIONER = "local-provisioner"


class KernelRecord(BaseModel):
    """Everything needed to reconnect to, signal and shut down a kernel."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: KernelId = Field(description="The kernel's id.")
    kernel_name: str = Field(description="Kernel spec it was started from.")
    connection_info: dict[str, Any] = Field(
        description="Transport, ip, ports, key and signature scheme (the connection file)."
    )
    provisioner_name: str = Field(description="jupyter_client provisioner entry-point name.")
    provisioner_info: dict[str, Any] = Field(
        description="The provisioner's own persisted state (pid, pgid, job id, ...)."
    )
    connection_file: str = Field("", description="The connection file the kernel read.")
    cwd: str = Field(description="The kernel's working directory.")
    launch_env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables added for this kernel (reapplied on restart).",
    )
    started: datetime = Field(description="When the kernel (process) was started, UTC.")
    environment: KernelEnvironment | None = Field(
        None, description="The environment it was started in, if one was named."
    )


class RecordStore:
    """The folder of kernel records.  Plain blocking file I/O: call it from a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, kernel_id: str) -> Path:
        return self.folder / f"{kernel_id}.json"

    def log_path(self, kernel_id: str) -> Path:
        """Where the kernel process's stdout and stderr go."""
        return self.folder / f"{kernel_id}.log"

    def write(self, record: KernelRecord) -> None:
        """Write ``record`` atomically, replacing any earlier one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = record.model_dump_json(indent=2).encode()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{record.id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # The record holds the kernel's signing key: owner-only.
            Path(tmp).chmod(0o600)
            Path(tmp).replace(self.path(record.id))
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise

    def remove(self, kernel_id: str) -> None:
        """Forget a kernel: its record and its log.  Missing files are fine."""
        for path in (self.path(kernel_id), self.log_path(kernel_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def read_all(self) -> list[KernelRecord]:
        """Every readable record; unreadable ones are logged and removed."""
        if not self.folder.is_dir():
            return []
        records = []
        for path in sorted(self.folder.glob("*.json")):
            if not _is_uuid(path.stem):
                continue
            try:
                records.append(KernelRecord.model_validate(json.loads(path.read_bytes())))
            except (OSError, ValueError, ValidationError) as exc:
                log.warning("discarding unreadable kernel record %s: %s", path, exc)
                self.remove(path.stem)
        return records


async def record_of(kernel: Kernel) -> KernelRecord:
    """The record of ``kernel`` as it runs now (after a restart: its new process)."""
    manager = kernel.manager
    provisioner_info: dict[str, Any] = {}
    if manager.provisioner is not None:
        provisioner_info = await manager.provisioner.get_provisioner_info()
    return KernelRecord(
        id=kernel.id,
        kernel_name=kernel.name,
        connection_info=_jsonable(manager.get_connection_info()),
        provisioner_name=kernel.provisioner_name,
        provisioner_info=_jsonable(provisioner_info),
        connection_file=manager.connection_file,
        cwd=kernel.cwd,
        launch_env=kernel.launch_env,
        started=kernel.started,
        environment=kernel.environment,
    )


def provisioner_name(metadata: Mapping[str, Any]) -> str:
    """The provisioner a kernel spec asks for (its metadata), local by default."""
    stanza = metadata.get("kernel_provisioner") or {}
    return str(stanza.get("provisioner_name") or LOCAL_PROVISIONER)


def _jsonable(value: Any) -> Any:
    # Connection info holds bytes (the key, curve keys): text for JSON.
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
