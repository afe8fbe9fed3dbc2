"""Sessions: a notebook path bound to a kernel, Jupyter Server's /api/sessions model."""

from __future__ import annotations

from adrastea.kernels import KernelRegistry


class SessionManager:
    """PLACEHOLDER: being written."""

    def __init__(self, kernels: KernelRegistry) -> None:
        self.kernels = kernels
