"""What a live document reports to its owner: saves, reloads, conflicts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adrastea.documents.types import FileStamp
from adrastea.errors import AdrasteaError, Conflict

__all__ = [
    "ConflictDetected",
    "DocumentEvent",
    "FileChangedOnDisk",
    "Reloaded",
    "SaveFailed",
    "Saved",
]


class FileChangedOnDisk(Conflict):
    """The file changed on disk while the live document has unsaved changes.

    Neither side is overwritten: autosave pauses until the owner resolves it
    with ``save(force=True)`` (keep the live document) or ``reload()`` (take
    the file).  ``disk`` is the file's new stamp (None if it was deleted).
    """

    code, title = "file-changed-on-disk", "File changed on disk"

    def __init__(self, path: Path, disk: FileStamp | None, reason: str) -> None:
        super().__init__(f"{path.name} changed on disk ({reason}) and has unsaved changes here")
        self.path = path
        self.disk = disk
        self.reason = reason


@dataclass(frozen=True)
class Saved:
    """The live document was written to the file, which now has ``stamp``."""

    stamp: FileStamp
    autosave: bool


@dataclass(frozen=True)
class Reloaded:
    """The file changed on disk and the (clean) live document now follows it."""

    stamp: FileStamp


@dataclass(frozen=True)
class ConflictDetected:
    """The file changed on disk but the live document has unsaved changes; see the error."""

    error: FileChangedOnDisk


@dataclass(frozen=True)
class SaveFailed:
    """An autosave failed (e.g. the document does not validate, or the disk is full).

    The journal still holds every change; autosave retries after the next change.
    """

    error: AdrasteaError | OSError


DocumentEvent = Saved | Reloaded | ConflictDetected | SaveFailed
