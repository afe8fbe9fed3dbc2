"""The one typed configuration model, and how it is loaded.

Sources, lowest priority first: a TOML file (``--config``, else
``./adrastea.toml``, else ``adrastea.toml`` in the user config folder), then
environment variables ``ADRASTEA_*`` (nested with ``__``, e.g.
``ADRASTEA_KERNELS__STARTUP_TIMEOUT=60``), then command-line flags and
``--set dotted.key=value`` overrides.  Unknown keys are an error naming the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from adrastea.errors import ConfigError

__all__ = [
    "ContentsSettings",
    "DocumentSettings",
    "EnvironmentSettings",
    "KernelSettings",
    "ServerSettings",
    "Settings",
    "SlurmPlacement",
    "SlurmSettings",
    "find_config_file",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    ip: str = Field("127.0.0.1", description="Address to listen on (loopback by default).")
    port: int = Field(8888, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    token: str | None = Field(
        None,
        description="Access token. A random one is generated at start-up when unset.",
    )
    root_dir: Path = Field(Path(), description="Folder whose files the server serves.")
    state_dir: Path | None = Field(
        None,
        description="Where kernel records, journals and checkpoints live "
        "(default: ROOT_DIR/.adrastea).",
    )
    open_browser: bool = Field(True, description="Open a browser at start-up.")

    def resolved_state_dir(self) -> Path:
        """The state folder, absolute."""
        root = self.root_dir.expanduser().resolve()
        return (self.state_dir or root / ".adrastea").expanduser().resolve()


class ContentsSettings(_Section):
    allow_hidden: bool = Field(
        False, description="Serve files and folders whose names start with a dot."
    )


class KernelSettings(_Section):
    default_kernel_name: str = Field("python3", description="Kernel spec used when none is named.")
    startup_timeout: float = Field(
        60.0, gt=0, description="Seconds a local kernel may take to answer kernel_info."
    )
    cull_idle_timeout: float = Field(
        0.0, ge=0, description="Shut down kernels idle this many seconds (0: never)."
    )
    cull_interval: float = Field(60.0, gt=0, description="Seconds between idle-kernel checks.")
    cull_connected: bool = Field(
        False, description="Also cull idle kernels that have WebSocket clients attached."
    )
    cull_busy: bool = Field(False, description="Also cull kernels that are busy.")


class DocumentSettings(_Section):
    autosave_delay: float = Field(
        1.0, gt=0, description="Seconds after a change before the notebook is saved."
    )
    output_cap_bytes: int = Field(
        1_000_000,
        gt=1000,
        description="Largest output kept in the live document; the rest is spilled to disk.",
    )
    output_budget_bytes: int = Field(
        4_000_000,
        gt=1000,
        description=(
            "Output a notebook opened from disk shows in all: past it, every big output is"
            " cut to an even share (its head and tail) and read from disk when needed."
        ),
    )
    stream_coalesce_interval: float = Field(
        0.1, gt=0, description="Seconds stream output is gathered before touching the document."
    )
    stdin_timeout: float = Field(
        60.0, gt=0, description="Seconds input() waits for a client to answer."
    )


Scalar = str | int


class OpenField(_Section):
    """A resource the user may choose, within limits."""

    default: Scalar | None = Field(None, description="Value used when the user picks none.")
    choices: list[Scalar] | None = Field(None, description="The allowed values, if a list.")
    min: int | None = Field(None, description="Smallest allowed value (numbers).")
    max: int | None = Field(None, description="Largest allowed value (numbers).")


#: A resource is fixed by the admin (a plain value) or open to the user.
Resource = Scalar | OpenField


class SlurmPlacement(_Section):
    """Where and with what a Slurm environment's kernel runs."""

    partition: Resource | None = Field(None, description="Slurm partition (--partition).")
    time: Resource | None = Field(
        None, description="Time limit (--time), e.g. '01:00:00' or minutes."
    )
    cpus: Resource | None = Field(None, description="CPUs per task (--cpus-per-task).")
    mem: Resource | None = Field(None, description="Memory (--mem), e.g. '4G'.")
    gres: Resource | None = Field(None, description="Generic resources (--gres), e.g. 'gpu:1'.")
    account: Resource | None = Field(None, description="Account to charge (--account).")
    qos: Resource | None = Field(None, description="Quality of service (--qos).")
    constraint: Resource | None = Field(None, description="Node features (--constraint).")
    extra_sbatch: list[str] = Field(
        default_factory=list, description="More #SBATCH lines, e.g. '--exclusive'."
    )
    setup: list[str] = Field(
        default_factory=list,
        description="Shell lines run before the kernel, e.g. 'module load python'.",
    )


class EnvironmentSettings(_Section):
    """A place to run a kernel: a kernelspec plus where it runs."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Short unique name, e.g. 'gpu'."
    )
    display_name: str | None = Field(None, description="Name shown to users.")
    kernelspec: str = Field(description="Kernel spec to run, e.g. 'python3'.")
    placement: Literal["local", "slurm"] = Field("local", description="'local' or 'slurm'.")
    slurm: SlurmPlacement = Field(
        default_factory=SlurmPlacement, description="Slurm resources (placement 'slurm')."
    )


class SlurmSettings(_Section):
    poll_interval: float = Field(2.0, gt=0, description="Seconds between squeue checks of a job.")
    pending_timeout: float | None = Field(
        None, description="Give up on a kernel job pending this long (None: wait forever)."
    )
    walltime_warnings: list[int] = Field(
        default_factory=lambda: [600, 60],
        description="Warn a notebook this many seconds before its job's time limit.",
    )


class Settings(BaseSettings):
    """Everything configurable, in one frozen tree passed down explicitly."""

    model_config = SettingsConfigDict(
        env_prefix="ADRASTEA_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    server: ServerSettings = Field(default_factory=ServerSettings, description="The HTTP server.")
    contents: ContentsSettings = Field(
        default_factory=ContentsSettings, description="The files API."
    )
    kernels: KernelSettings = Field(default_factory=KernelSettings, description="Kernels.")
    documents: DocumentSettings = Field(
        default_factory=DocumentSettings, description="Live notebook documents."
    )
    slurm: SlurmSettings = Field(default_factory=SlurmSettings, description="Slurm jobs.")
    environments: list[EnvironmentSettings] = Field(
        default_factory=list,
        description="Places kernels run; by default one local environment per kernel spec.",
    )


class _DictSource(PydanticBaseSettingsSource):
    """A settings source holding an already-parsed TOML table."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The config file to read: ``explicit``, ``./adrastea.toml`` or the user's one.

    Raises:
        ConfigError: ``explicit`` was given but does not exist.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return explicit
    for candidate in (
        Path("adrastea.toml"),
        Path(platformdirs.user_config_dir("adrastea")) / "adrastea.toml",
    ):
        if candidate.is_file():
            return candidate
    return None


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ``["kernels.startup_timeout=60"]`` into a nested dict.

    Values are parsed as TOML scalars when they can be (numbers, booleans,
    quoted strings), else taken as plain strings.
    """
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set wants KEY=VALUE, got {pair!r}")
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Load the settings from file, environment and ``overrides`` (highest wins).

    Raises:
        ConfigError: unreadable file or invalid/unknown keys; the message names them.
    """
    path = find_config_file(config_file)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc

    class _Loader(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _DictSource(settings_cls, data))

    try:
        loaded = _Loader(**(overrides or {}))
    except ValidationError as exc:
        where = f" (from {path})" if path else ""
        raise ConfigError(f"invalid configuration{where}:\n{_describe(exc)}") from exc
    return Settings.model_validate(loaded.model_dump())


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)
