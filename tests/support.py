"""Assertion helpers shared by the API tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status`` and ``code``; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["detail"]
    return body


def names(folder: Path) -> list[str]:
    """What is in ``folder`` on disk, hidden entries included."""
    return sorted(entry.name for entry in folder.iterdir())
