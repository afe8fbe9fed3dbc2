"""Environments: a kernelspec plus the place it runs, with user choices.

An admin defines environments in the config; each Slurm resource is either
fixed (a plain value) or open (an ``OpenField`` with a default and a choice
list or min/max).  ``form_schema`` turns an environment into a JSON Schema
the browser renders as a form (Open OnDemand style); ``resolve`` checks a
user's choices against it and returns the final values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adrastea.config import EnvironmentSettings, OpenField, Settings, SlurmPlacement
from adrastea.documents import atomic_write
from adrastea.errors import EnvironmentNotFound, InvalidChoice

__all__ = ["Environment", "EnvironmentCatalog"]

_RESOURCES = ("partition", "time", "cpus", "mem", "gres", "account", "qos", "constraint")
_INTEGER = {"cpus"}
_PATTERNS = {
    "time": r"^(\d+|\d+-\d{1,2}(:\d{2}){0,2}|\d{1,3}:\d{2}(:\d{2})?)$",
    "mem": r"^\d+[KMGT]?$",
}


@dataclass(frozen=True)
class Environment:
    """One place to run a kernel."""

    name: str
    display_name: str
    kernelspec: str
    placement: str
    slurm: SlurmPlacement | None

    def model(self) -> dict[str, Any]:
        """The API's JSON view, including the choice form's JSON Schema."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "kernelspec": self.kernelspec,
            "placement": self.placement,
            "schema": self.form_schema(),
        }

    def form_schema(self) -> dict[str, Any]:
        """A JSON Schema of the choices a user may make (fixed fields are ``const``)."""
        properties: dict[str, Any] = {}
        if self.slurm is not None:
            for name in _RESOURCES:
                rule = getattr(self.slurm, name)
                if rule is not None:
                    properties[name] = _field_schema(name, rule)
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def resolve(self, choices: Mapping[str, Any] | None) -> dict[str, Any]:
        """Final resource values from the user's ``choices`` and the defaults.

        Raises:
            InvalidChoice: an unknown field, a fixed field set to another value,
                or a value outside the allowed choices/range; names the field
                and what is allowed.
        """
        choices = dict(choices or {})
        resolved: dict[str, Any] = {}
        slurm = self.slurm
        for name in list(choices):
            if slurm is None or name not in _RESOURCES or getattr(slurm, name) is None:
                allowed = ", ".join(self.form_schema()["properties"]) or "none"
                raise InvalidChoice(name, f"not a choice of {self.name!r} (choices: {allowed})")
        if slurm is None:
            return resolved
        for name in _RESOURCES:
            rule = getattr(slurm, name)
            if rule is None:
                continue
            value = _check(name, rule, choices.get(name))
            if value is not None:
                resolved[name] = value
        return resolved

    def provisioner_config(self, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """The Slurm provisioner's config for these resolved choices."""
        assert self.slurm is not None
        return {
            **resolved,
            "extra_sbatch": list(self.slurm.extra_sbatch),
            "setup": list(self.slurm.setup),
        }


def _field_schema(name: str, rule: Any) -> dict[str, Any]:
    kind = "integer" if name in _INTEGER else "string"
    if not isinstance(rule, OpenField):
        return {"type": kind, "const": rule, "default": rule, "readOnly": True}
    schema: dict[str, Any] = {"type": kind}
    if rule.default is not None:
        schema["default"] = rule.default
    if rule.choices is not None:
        schema["enum"] = list(rule.choices)
    if rule.min is not None:
        schema["minimum"] = rule.min
    if rule.max is not None:
        schema["maximum"] = rule.max
    if name in _PATTERNS and rule.choices is None:
        schema["pattern"] = _PATTERNS[name]
    return schema


def _check(name: str, rule: Any, value: Any) -> Any:
    if not isinstance(rule, OpenField):
        if value is not None and str(value) != str(rule):
            raise InvalidChoice(name, f"is fixed to {rule!r} in this environment")
        return rule
    if value is None:
        return rule.default
    if name in _INTEGER:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidChoice(name, "must be a whole number")
        try:
            value = int(value)
        except ValueError as exc:
            raise InvalidChoice(name, "must be a whole number") from exc
    elif not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidChoice(name, "must be a string")
    else:
        value = str(value)
    if rule.choices is not None and value not in [
        int(c) if name in _INTEGER else str(c) for c in rule.choices
    ]:
        allowed = ", ".join(str(c) for c in rule.choices)
        raise InvalidChoice(name, f"{value!r} is not allowed; choose one of: {allowed}")
    if rule.min is not None and int(value) < rule.min:
        raise InvalidChoice(name, f"{value} is below the minimum {rule.min}")
    if rule.max is not None and int(value) > rule.max:
        raise InvalidChoice(name, f"{value} is above the maximum {rule.max}")
    pattern = _PATTERNS.get(name)
    if pattern and rule.choices is None and not re.match(pattern, str(value)):
        raise InvalidChoice(name, f"{value!r} is not a valid Slurm {name}")
    return value


class EnvironmentCatalog:
    """The configured environments, then one local environment per kernelspec.

    A configured environment with a kernelspec's name replaces its local one.
    """

    def __init__(self, settings: Settings, kernelspec_names: Iterable[str]) -> None:
        configured = [_from_settings(e) for e in settings.environments]
        self._by_name = {env.name: env for env in configured}
        for name in sorted(kernelspec_names):
            self._by_name.setdefault(
                name, Environment(name, f"{name} (local)", name, "local", None)
            )

    def all(self) -> list[Environment]:
        return list(self._by_name.values())

    def get(self, name: str) -> Environment:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise EnvironmentNotFound(f"no environment {name!r} (known: {known})") from None

    def choose(
        self,
        name: str | None,
        choices: Mapping[str, Any] | None = None,
        *,
        kernelspec: str | None = None,
    ) -> tuple[Environment, dict[str, Any]]:
        """The environment ``name`` and the user's ``choices``, resolved (``resolve``).

        What every door that starts a kernel in a place checks first, so
        nothing starts on a bad request.  ``kernelspec`` is a kernel spec name
        the client sent too (Jupyter clients always send one): if given, it
        must be the environment's.

        Raises:
            EnvironmentNotFound: no environment ``name``.
            InvalidChoice: choices without an environment, a kernel spec that
                is not the environment's, or a choice ``resolve`` refuses.
        """
        if name is None:
            raise InvalidChoice("environment", "choices need an environment to apply to")
        env = self.get(name)
        if kernelspec is not None and kernelspec != env.kernelspec:
            raise InvalidChoice(
                "name",
                f"environment {env.name!r} runs kernel spec {env.kernelspec!r}, not {kernelspec!r}",
            )
        return env, env.resolve(choices)


def _from_settings(env: EnvironmentSettings) -> Environment:
    return Environment(
        name=env.name,
        display_name=env.display_name or env.name,
        kernelspec=env.kernelspec,
        placement=env.placement,
        slurm=env.slurm if env.placement == "slurm" else None,
    )


SPECS_FOLDER = "environment-kernelspecs"


def materialize(env: Environment, resolved: Mapping[str, Any], base: Any, state_dir: Path) -> str:
    """Write a kernelspec for ``env`` with ``resolved`` choices; return its name.

    A Slurm environment becomes an ordinary kernelspec whose
    ``metadata.kernel_provisioner`` is the Slurm provisioner with the chosen
    resources, so jupyter_client starts (and a restarted server re-adopts)
    it like any other kernel.  ``base`` is the environment's jupyter_client
    ``KernelSpec``.  The specs live in ``state_dir/environment-kernelspecs``,
    a folder the kernelspec listing leaves out.
    """
    if env.placement != "slurm":
        return env.kernelspec
    config = env.provisioner_config(resolved)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    name = f"{env.kernelspec}--{env.name}--{digest}"
    spec = base.to_dict()
    spec["display_name"] = f"{spec.get('display_name', env.kernelspec)} ({env.display_name})"
    metadata = dict(spec.get("metadata") or {})
    metadata["kernel_provisioner"] = {"provisioner_name": "adrastea-slurm", "config": config}
    metadata["adrastea"] = {"environment": env.name, "choices": dict(resolved)}
    spec["metadata"] = metadata
    folder = state_dir / SPECS_FOLDER / name
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "kernel.json", json.dumps(spec, indent=1).encode())
    return name
