"""Chunked uploads, as JupyterLab sends large files: chunk 1, 2, ..., then -1.

Chunks are appended to a part file in ``STATE/uploads``; the target is not
touched until the last chunk (-1) arrives, when the fsync-ed part file is
renamed over it atomically.  Until then readers see the old file (or none),
never a half-uploaded one.  A -1 with no upload in progress is a complete
one-chunk upload.  Chunk 1 always starts over.  Any other chunk must be the
next one expected, else ``InvalidUpload``; a failed write abandons the upload
(the client must start again from chunk 1) rather than risk a duplicated or
missing piece.  Part files of uploads abandoned by clients are removed when
the server starts.  All methods are blocking and thread-safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

from adrastea.contents._atomic import move_into
from adrastea.errors import InvalidUpload

__all__ = ["Uploads"]


class Uploads:
    """Uploads in progress, keyed by API path; part files live under ``base``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True, exist_ok=True)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._expected: dict[str, int] = {}

    def receive(self, api: str, target: Path, chunk: int, data: bytes) -> int | None:
        """Store chunk number ``chunk`` of the upload to ``api``.

        Returns the number of bytes received so far, or None once the last
        chunk has been stored and the file moved to ``target``.

        Raises:
            InvalidUpload: ``chunk`` is not the one expected next.
        """
        with self._guard:
            lock = self._locks.setdefault(api, threading.Lock())
        with lock:
            part = self.base / f"{hashlib.sha256(api.encode()).hexdigest()}.part"
            append = self._check_order(api, chunk)
            try:
                with part.open("ab" if append else "wb") as out:
                    out.write(data)
                    if chunk == -1:
                        out.flush()
                        os.fsync(out.fileno())
                    size = out.tell()
                if chunk != -1:
                    self._expected[api] = chunk + 1
                    return size
                move_into(part, target)
            except BaseException:
                self._abandon(api, part)
                raise
            self._abandon(api, part)
            return None

    def _check_order(self, api: str, chunk: int) -> bool:
        """Whether ``chunk`` continues the upload in progress (else it starts one)."""
        expected = self._expected.get(api)
        if chunk == 1:
            return False
        if chunk == -1:
            return expected is not None
        if chunk < 1:
            raise InvalidUpload(f"chunk must be 1, 2, 3, ... or -1 for the last one, not {chunk}")
        if expected is None:
            raise InvalidUpload(f"no upload to {api!r} in progress: send chunk 1 first")
        if chunk != expected:
            raise InvalidUpload(
                f"chunk {chunk} of the upload to {api!r} is out of order: expected {expected}"
            )
        return True

    def _abandon(self, api: str, part: Path) -> None:
        self._expected.pop(api, None)
        part.unlink(missing_ok=True)
        with self._guard:
            self._locks.pop(api, None)
