"""A Slurm kernel's folder on the shared file system.

    JOBS_DIR/KERNEL_ID/
        job.sh                   the batch script (rewritten at every launch)
        connection-request.json  key and signature scheme for the node (0600)
        connection.json          what the node wrote back: address and ports (0600)
        JOBID.out, JOBID.err     the job's stdout and stderr

Both connection files hold the session key; ``remove_launch_files`` deletes them
and the script at cleanup.  The logs stay or go as ``keep_logs`` says.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JobFolder:
    """Paths of one kernel's job files; creating the folder is ``create``'s job."""

    path: Path

    @property
    def script(self) -> Path:
        return self.path / "job.sh"

    @property
    def request(self) -> Path:
        return self.path / "connection-request.json"

    @property
    def connection_file(self) -> Path:
        return self.path / "connection.json"

    def log(self, job_id: str, stream: str) -> Path:
        """The job's ``"out"`` or ``"err"`` log."""
        return self.path / f"{job_id}.{stream}"

    def log_pattern(self, stream: str) -> str:
        """The ``--output``/``--error`` pattern (``%j`` is the job id)."""
        return str(self.path / f"%j.{stream}")

    def create(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def write_script(self, text: str) -> None:
        _write_private(self.script, text, mode=0o700)

    def write_request(self, info: dict[str, Any]) -> None:
        # A stale connection file from a previous launch must not be mistaken
        # for the new kernel's.
        self.connection_file.unlink(missing_ok=True)
        _write_private(self.request, json.dumps(info, indent=1), mode=0o600)

    def read_connection(self) -> dict[str, Any] | None:
        """What the node wrote back, or None while it has not (it is written atomically)."""
        try:
            info = json.loads(self.connection_file.read_text())
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def tail(self, job_id: str, stream: str = "err", lines: int = 10) -> str:
        """The last ``lines`` lines of a log, or "" when there is none."""
        try:
            with self.log(job_id, stream).open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def remove_launch_files(self) -> None:
        for path in (self.script, self.request, self.connection_file):
            path.unlink(missing_ok=True)

    def remove_logs(self, job_id: str) -> None:
        for stream in ("out", "err"):
            self.log(job_id, stream).unlink(missing_ok=True)

    def remove_if_empty(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _write_private(path: Path, text: str, *, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
