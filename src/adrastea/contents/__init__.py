"""Files under the served root: Jupyter's contents model, checkpoints, atomic writes."""

from __future__ import annotations

from pathlib import Path

from adrastea.config import ContentsSettings

__all__ = ["ContentsManager"]


class ContentsManager:
    """PLACEHOLDER: being written."""

    def __init__(self, root: Path, settings: ContentsSettings, state_dir: Path) -> None:
        self.root = root
        self.settings = settings
        self.state_dir = state_dir
