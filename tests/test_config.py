"""Configuration: file, then environment, then flags; unknown keys named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from adrastea.config import Settings, load_settings, parse_overrides
from adrastea.errors import ConfigError


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adrastea", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_file_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "site.toml"
    config.write_text("[server]\nport = 1111\nip = '127.0.0.2'\n[kernels]\ncull_interval = 5\n")
    monkeypatch.setenv("ADRASTEA_SERVER__PORT", "2222")
    settings = load_settings(config, parse_overrides(["kernels.cull_interval=7"]))
    assert settings.server.ip == "127.0.0.2"  # from the file
    assert settings.server.port == 2222  # env beats file
    assert settings.kernels.cull_interval == 7  # --set beats both


def test_unknown_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key"):
        load_settings(config)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_every_field_is_described() -> None:
    """The reference docs come from these descriptions; none may be missing."""

    def walk(model: type[object], prefix: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            if not field.description:
                missing.append(prefix + name)
            sub = field.annotation
            if isinstance(sub, type) and hasattr(sub, "model_fields"):
                missing += walk(sub, f"{prefix}{name}.")
        return missing

    assert walk(Settings, "") == []


@pytest.mark.slow
def test_config_show_prints_effective_toml(tmp_path: Path) -> None:
    (tmp_path / "adrastea.toml").write_text("[kernels]\ncull_idle_timeout = 600\n")
    result = _cli("config", "show", "--set", "server.port=9999", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cull_idle_timeout = 600.0" in result.stdout
    assert "port = 9999" in result.stdout


@pytest.mark.slow
def test_cli_reports_bad_config_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "adrastea.toml").write_text("[kernels]\nbogus = 1\n")
    result = _cli("config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "kernels.bogus: unknown key" in result.stderr


@pytest.mark.slow
def test_version_and_help(tmp_path: Path) -> None:
    assert _cli("--version", cwd=tmp_path).stdout.startswith("adrastea ")
    help_text = _cli("--help", cwd=tmp_path).stdout
    for command in ("serve", "config", "run", "submit", "jobs", "sweep", "envs", "report"):
        assert command in help_text
        shown = _cli(command, "--help", cwd=tmp_path)
        assert shown.returncode == 0 and "Usage" in shown.stdout, shown.stderr
    missing = _cli("run", cwd=tmp_path)
    assert missing.returncode == 2 and "Missing argument" in missing.stderr
