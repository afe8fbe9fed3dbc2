"""Environments: admin-defined places with user choices validated against limits."""

from __future__ import annotations

import pytest

from adrastea.config import Settings
from adrastea.errors import EnvironmentNotFound, InvalidChoice
from adrastea.kernels._environments import EnvironmentCatalog

SETTINGS = Settings.model_validate(
    {
        "environments": [
            {
                "name": "gpu",
                "kernelspec": "python3",
                "placement": "slurm",
                "slurm": {
                    "partition": "debug",
                    "time": {"default": "00:30:00", "choices": ["00:30:00", "02:00:00"]},
                    "cpus": {"default": 2, "min": 1, "max": 8},
                    "mem": {"default": "4G"},
                    "gres": "gpu:1",
                    "setup": ["module load cuda"],
                },
            }
        ]
    }
)


def _catalog() -> EnvironmentCatalog:
    return EnvironmentCatalog(SETTINGS, ["python3", "bash"])


def test_configured_and_local_environments_are_listed() -> None:
    names = [(e.name, e.placement) for e in _catalog().all()]
    assert names == [("gpu", "slurm"), ("bash", "local"), ("python3", "local")]


def test_form_schema_shows_fixed_and_open_fields() -> None:
    schema = _catalog().get("gpu").form_schema()["properties"]
    assert schema["partition"] == {
        "type": "string", "const": "debug", "default": "debug", "readOnly": True
    }  # fmt: skip
    assert schema["time"]["enum"] == ["00:30:00", "02:00:00"]
    assert (schema["cpus"]["minimum"], schema["cpus"]["maximum"]) == (1, 8)


def test_defaults_and_choices_resolve() -> None:
    env = _catalog().get("gpu")
    assert env.resolve({}) == {
        "partition": "debug", "time": "00:30:00", "cpus": 2, "mem": "4G", "gres": "gpu:1"
    }  # fmt: skip
    assert env.resolve({"cpus": "4", "time": "02:00:00"})["cpus"] == 4
    config = env.provisioner_config(env.resolve({}))
    assert config["setup"] == ["module load cuda"]


@pytest.mark.parametrize(
    ("choices", "field", "words"),
    [
        ({"cpus": 64}, "cpus", "above the maximum 8"),
        ({"cpus": 0}, "cpus", "below the minimum 1"),
        ({"cpus": "many"}, "cpus", "whole number"),
        ({"time": "99:00:00"}, "time", "choose one of: 00:30:00, 02:00:00"),
        ({"partition": "batch"}, "partition", "fixed to 'debug'"),
        ({"mem": "lots"}, "mem", "not a valid Slurm mem"),
        ({"colour": "blue"}, "colour", "not a choice"),
    ],
)
def test_bad_choices_name_the_field_and_what_is_allowed(
    choices: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidChoice) as info:
        _catalog().get("gpu").resolve(choices)
    assert info.value.field == field
    assert words in info.value.detail


def test_unknown_environment_lists_known_ones() -> None:
    with pytest.raises(EnvironmentNotFound, match="known: gpu, bash, python3"):
        _catalog().get("tpu")
