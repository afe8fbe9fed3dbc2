"""Files under the served root: Jupyter's contents model, checkpoints, atomic writes."""

from __future__ import annotations

from adrastea.contents._manager import ContentsManager
from adrastea.contents._models import (
    CheckpointModel,
    ContentsModel,
    ContentsType,
    NewRequest,
    RenameRequest,
    SaveRequest,
    parse_type,
)
from adrastea.contents._reading import FileFormat

__all__ = [
    "CheckpointModel",
    "ContentsManager",
    "ContentsModel",
    "ContentsType",
    "FileFormat",
    "NewRequest",
    "RenameRequest",
    "SaveRequest",
    "parse_type",
]
