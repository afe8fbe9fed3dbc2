"""Shared vocabulary of the documents package: file stamps, settings, output ids."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NewType, Protocol

__all__ = ["DocumentOptions", "FileStamp", "OutputId"]

OutputId = NewType("OutputId", str)
"""Names one spilled output (32 lowercase hex digits); it is also its spill file's stem."""

_HASH_CHUNK = 1 << 20


class DocumentOptions(Protocol):
    """What a live document needs from configuration.

    ``adrastea.config.DocumentSettings`` satisfies it; ``documents`` does not
    import the config module so that it stays a pure library.
    """

    @property
    def autosave_delay(self) -> float: ...

    @property
    def output_cap_bytes(self) -> int: ...

    @property
    def output_budget_bytes(self) -> int: ...

    @property
    def stream_coalesce_interval(self) -> float: ...


@dataclass(frozen=True)
class FileStamp:
    """What a file looked like at one moment: enough to tell if someone changed it.

    ``mtime_ns`` and ``size`` are the cheap first check; ``sha256`` of the
    content decides (a ``touch`` changes the mtime but not the notebook).
    """

    mtime_ns: int
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        """Stamp ``path`` now (reads the whole file; call it off the event loop).

        Raises:
            OSError: the file cannot be read (``FileNotFoundError`` if it is gone).
        """
        digest = hashlib.sha256()
        with path.open("rb") as f:
            before = os.fstat(f.fileno())
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
        return cls(before.st_mtime_ns, before.st_size, digest.hexdigest())

    @classmethod
    def of_bytes(cls, data: bytes, st: os.stat_result) -> FileStamp:
        """The stamp of a file whose content ``data`` was just read or written."""
        return cls(st.st_mtime_ns, st.st_size, hashlib.sha256(data).hexdigest())

    def same_stat(self, st: os.stat_result) -> bool:
        """True if ``st`` (size and mtime) matches: content is then assumed unchanged."""
        return st.st_mtime_ns == self.mtime_ns and st.st_size == self.size

    def same_content(self, other: FileStamp) -> bool:
        """True if both stamps describe the same bytes, whatever their mtimes."""
        return self.size == other.size and self.sha256 == other.sha256

    def to_json(self) -> dict[str, int | str]:
        return {"mtime_ns": self.mtime_ns, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: dict[str, int | str]) -> FileStamp:
        return cls(int(data["mtime_ns"]), int(data["size"]), str(data["sha256"]))
