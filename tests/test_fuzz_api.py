"""Schemathesis fuzzes every operation of the OpenAPI spec: no 5xx, ever."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from adrastea.testing import ServerProcess

pytestmark = pytest.mark.slow


def test_openapi_fuzzing_finds_no_server_errors(fresh_server: ServerProcess) -> None:
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.fail("schemathesis is a test dependency; install '.[test]'")
    (fresh_server.root / "notes.txt").write_text("hello\n")
    command = [
            st, "run", f"{fresh_server.url}/openapi.json",
            "-H", f"Authorization: token {fresh_server.token}",
            "--checks", "not_a_server_error",
            "--max-examples", "10",
            "--phases", "coverage,fuzzing",
            "--seed", "20261126",
            "--max-time", "90",
            "--request-timeout", "30",
            "--no-color",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
