"""The sweep manifest: what a sweep is and where each task stands, saved in its folder.

``manifest.json`` in the sweep folder records the grid, the Slurm job id once
known, and per task its index, parameters, output notebook (relative to the
folder) and state.  It is replaced atomically on every save.  There is one
writer at a time (the process that submits or collects); tasks running in a job
array report through their own notebooks, not through this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adrastea.batch._grid import expand_grid, task_filename
from adrastea.batch._sink import write_atomically as write_atomic
from adrastea.errors import BadRequest, FileNotFound

MANIFEST_NAME = "manifest.json"


class TaskState(StrEnum):
    """Where a sweep task stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SweepTask(BaseModel):
    """One point of the sweep and its run."""

    # NaN and infinity are legal parameter values (``-p lr nan``); keep them.
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    index: int = Field(ge=0, description="Position of the task in the sweep, from 0.")
    params: dict[str, Any] = Field(description="The grid point this task runs.")
    output: str = Field(description="Output notebook, relative to the sweep folder.")
    state: TaskState = Field(default=TaskState.PENDING, description="Where the task stands.")
    error: str | None = Field(default=None, description="Why the task failed, one line.")


class SweepManifest(BaseModel):
    """A sweep: its grid, its job and its tasks, in task order."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    version: Literal[1] = Field(default=1, description="Format of this file.")
    notebook: str | None = Field(default=None, description="The input notebook, if recorded.")
    grid: dict[str, list[Any]] = Field(description="Swept names and their values, in order.")
    mode: Literal["product", "zip"] = Field(
        default="product", description="Cartesian product of the lists, or the lists zipped."
    )
    job_id: str | None = Field(default=None, description="Slurm job (array) id, once submitted.")
    environment: str | None = Field(
        default=None, description="Environment the tasks run in (None: local kernels)."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Fixed parameters given to every task."
    )
    tasks: tuple[SweepTask, ...] = Field(description="The tasks, index i at position i.")

    @classmethod
    def plan(
        cls,
        grid: Mapping[str, Sequence[Any]],
        *,
        zip: bool = False,
        notebook: str | None = None,
        job_id: str | None = None,
    ) -> SweepManifest:
        """A new manifest with one pending task per grid point, outputs named by
        ``task_filename``.

        Raises:
            ParameterError: as ``expand_grid``.
        """
        points = expand_grid(grid, zip=zip)
        tasks = tuple(
            SweepTask(index=i, params=point, output=task_filename(i, point, total=len(points)))
            for i, point in enumerate(points)
        )
        return cls(
            notebook=notebook,
            grid={name: list(values) for name, values in grid.items()},
            mode="zip" if zip else "product",
            job_id=job_id,
            tasks=tasks,
        )

    def with_job(self, job_id: str) -> SweepManifest:
        """A copy that records the Slurm job id."""
        return self.model_copy(update={"job_id": job_id})

    def with_state(self, index: int, state: TaskState, error: str | None = None) -> SweepManifest:
        """A copy with task ``index`` in ``state`` (``error`` only for FAILED).

        Raises:
            IndexError: no such task.
        """
        if not 0 <= index < len(self.tasks):
            raise IndexError(f"the sweep has no task {index}")
        tasks = list(self.tasks)
        tasks[index] = tasks[index].model_copy(update={"state": state, "error": error})
        return self.model_copy(update={"tasks": tuple(tasks)})

    def save(self, sweep_dir: Path) -> Path:
        """Write ``manifest.json`` in ``sweep_dir`` atomically; return its path."""
        path = Path(sweep_dir) / MANIFEST_NAME
        write_atomic(path, (self.model_dump_json(indent=1) + "\n").encode())
        return path

    @classmethod
    def load(cls, sweep_dir: Path) -> SweepManifest:
        """Read ``manifest.json`` from ``sweep_dir``.

        Raises:
            FileNotFound: there is no manifest.
            BadRequest: the file is not a valid manifest.
        """
        path = Path(sweep_dir) / MANIFEST_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFound(f"no sweep manifest at {str(path)!r}") from None
        try:
            manifest = cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "file"
            raise BadRequest(
                f"{str(path)!r} is not a valid sweep manifest: {where}: {first['msg']}"
            ) from exc
        if [task.index for task in manifest.tasks] != list(range(len(manifest.tasks))):
            raise BadRequest(f"{str(path)!r} is not a valid sweep manifest: task indexes")
        return manifest
