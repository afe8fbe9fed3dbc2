"""The public surface re-exported through ``__all__`` is real."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "adrastea",
    "adrastea.batch",
    "adrastea.documents",
    "adrastea.execution",
    "adrastea.slurm",
    "adrastea.testing",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_exists(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_record_is_reachable_from_the_top() -> None:
    import adrastea
    from adrastea.batch import record

    assert adrastea.record is record
