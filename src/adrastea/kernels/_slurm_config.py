"""The Slurm provisioner's settings, from a kernelspec's ``kernel_provisioner.config``.

"metadata": {"kernel_provisioner": {
    "provisioner_name": "adrastea-slurm",
    "config": {"partition": "debug", "time": "1:00:00", "cpus": 4,
               "setup": ["module load python"]}}}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adrastea.errors import ConfigError

# One #SBATCH token: no whitespace, no quotes, nothing a shell or sbatch would split.
_TOKEN = re.compile(r"^[^\s'\"\\]+$")


class SlurmKernelConfig(BaseModel):
    """What a Slurm kernel job asks for and how the provisioner follows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str | None = Field(None, description="Partition (--partition).")
    time: str | None = Field(
        None, description="Time limit (--time): minutes, 'MM:SS', 'HH:MM:SS' or 'D-HH:MM:SS'."
    )
    cpus: int | None = Field(None, ge=1, description="CPUs for the kernel (--cpus-per-task).")
    mem: str | None = Field(None, description="Memory (--mem), e.g. '4G'.")
    gres: str | None = Field(None, description="Generic resources (--gres), e.g. 'gpu:1'.")
    account: str | None = Field(None, description="Account to charge (--account).")
    qos: str | None = Field(None, description="Quality of service (--qos).")
    constraint: str | None = Field(None, description="Node features (--constraint).")
    extra_sbatch: list[str] = Field(
        default_factory=list,
        description="More sbatch options, one per item: '--exclusive' or '#SBATCH --exclusive'.",
    )
    setup: list[str] = Field(
        default_factory=list,
        description="Shell lines run in the job before the kernel, e.g. 'module load python'.",
    )
    poll_interval: float = Field(
        0.5, gt=0, description="Seconds a job state read from squeue stays fresh."
    )
    pending_timeout: float | None = Field(
        None, gt=0, description="Cancel the job if still pending after this many seconds."
    )
    jobs_dir: Path | None = Field(
        None,
        description="Shared folder for job scripts, logs and connection files "
        "(default: Jupyter's runtime folder + '/slurm'); must be visible on the nodes.",
    )
    job_name: str | None = Field(None, description="Job name (default 'adrastea-KERNELNAME').")
    kernel_ip: str = Field(
        "auto",
        description="Address the kernel binds on its node; 'auto' is the interface "
        "that routes to this server's host.",
    )
    python: str | None = Field(
        None, description="Python that runs the launcher on the node (default: this one)."
    )
    keep_logs: Literal["always", "failed", "never"] = Field(
        "failed",
        description="Keep the job's stdout/stderr logs after shutdown: always, only "
        "when the job ended abnormally (default), or never.",
    )

    @field_validator("time", mode="before")
    @classmethod
    def _minutes(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("partition", "time", "mem", "gres", "account", "qos", "constraint")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and not _TOKEN.match(value):
            raise ValueError(f"{value!r} must be one word without quotes")
        return value

    @field_validator("extra_sbatch", "setup")
    @classmethod
    def _lines(cls, value: list[str]) -> list[str]:
        for line in value:
            if "\n" in line or "\0" in line:
                raise ValueError(f"{line!r} must be a single line")
        return value

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SlurmKernelConfig:
        """Validate the kernelspec's config.

        Raises:
            ConfigError: an unknown key or a bad value, naming it.
        """
        try:
            return cls.model_validate(options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"bad adrastea-slurm provisioner config: {problems}") from exc
