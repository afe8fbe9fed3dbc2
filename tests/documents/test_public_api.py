"""The public surface of adrastea.documents is exactly what __all__ says."""

from __future__ import annotations

import subprocess
import sys

import pytest

import adrastea.documents as documents


def test_all_names_exist_and_are_public() -> None:
    for name in documents.__all__:
        assert hasattr(documents, name), name
        assert not name.startswith("_")


def test_nothing_public_is_left_out_of_all() -> None:
    exported = {
        name
        for name, value in vars(documents).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("adrastea.documents")
    }

    assert exported <= set(documents.__all__)


@pytest.mark.slow
def test_importing_documents_does_not_import_nbformat() -> None:
    # nbformat's import takes seconds (jsonschema format checkers); a server must not pay it.
    code = "import sys, adrastea.documents; print('nbformat' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
