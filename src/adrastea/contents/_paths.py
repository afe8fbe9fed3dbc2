"""Root confinement: turn an API path into a place on disk, or refuse it.

An API path is what Jupyter clients send: ``/``-separated, relative to the
served root, ``""`` for the root itself.  Every path the contents API touches
goes through :meth:`PathGuard.resolve` first, so the rules live here only:

- malformed paths are refused with ``InvalidPath`` (400): absolute paths,
  empty, ``.`` or ``..`` segments, NUL bytes, backslashes, and percent-encoded
  dots, slashes, backslashes or NULs left over after the URL was decoded once
  (a double-encoding attack on anything that decodes again);
- paths that exist but must not be served answer ``FileNotFound`` (404), the
  same answer as for a missing file, so nothing is revealed: anything whose
  real location (symlinks followed) is outside the root or inside the state
  folder, and hidden (dot-named) files unless ``allow_hidden``.

Symlinks inside the root are followed, and the real path is checked as well as
the path the client named, so a link cannot smuggle in a hidden or state path.
Checks happen before the operation, so a concurrent local ``ln -s`` can still
race them; the server acts for the user who owns these files, and this guard
keeps out clients' paths, not the local user.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from adrastea.errors import FileNotFound, InvalidPath

__all__ = ["PathGuard", "Target"]

# Percent-encodings that would become separators or dot segments if something
# downstream decoded the path again.  Legitimate clients never send them: URL
# encoders leave ``.`` alone and cannot put ``/`` inside a file name.
_ENCODED = ("%2e", "%2f", "%5c", "%00")

# Names Jupyter Server leaves out of listings by default (its ``hide_globs``).
_UNLISTED_NAMES = frozenset({"__pycache__"})
_UNLISTED_SUFFIXES = (".pyc", ".pyo", "~")


@dataclass(frozen=True, slots=True)
class Target:
    """A vetted API path: ``path`` as named (links unresolved), ``real`` resolved."""

    api: str
    path: Path
    real: Path

    @property
    def name(self) -> str:
        return self.api.rpartition("/")[2]

    @property
    def parent_api(self) -> str:
        return self.api.rpartition("/")[0]


class PathGuard:
    """Confines API paths to ``root`` and keeps ``state_dir`` and hidden files out.

    ``root`` and ``state_dir`` must be absolute and already resolved.
    """

    def __init__(self, root: Path, state_dir: Path, *, allow_hidden: bool) -> None:
        self.root = root
        self.state_dir = state_dir
        self.allow_hidden = allow_hidden
        self._root_str = str(root)
        self._root_prefix = self._root_str.rstrip(os.sep) + os.sep
        self._state_str = str(state_dir)
        self._state_prefix = self._state_str.rstrip(os.sep) + os.sep

    @staticmethod
    def canonical(api_path: str) -> str:
        """``api_path`` in canonical form (no trailing slash), or ``InvalidPath``."""
        if "\x00" in api_path or "\\" in api_path:
            raise InvalidPath(f"paths may not contain NUL bytes or backslashes: {api_path!r}")
        lowered = api_path.lower()
        if any(code in lowered for code in _ENCODED):
            raise InvalidPath(
                "percent-encoded dots, slashes, backslashes or NULs are refused in paths: "
                f"{api_path!r}"
            )
        if api_path.startswith("/"):
            raise InvalidPath(
                f"absolute paths are refused; paths are relative to the served folder: {api_path!r}"
            )
        trimmed = api_path.rstrip("/")
        if not trimmed:
            return ""
        parts = trimmed.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise InvalidPath(f"paths may not contain empty, '.' or '..' segments: {api_path!r}")
        return trimmed

    def resolve(self, api_path: str) -> Target:
        """Vet ``api_path`` and locate it; the file need not exist.

        Raises:
            InvalidPath: malformed (see the module docstring).
            FileNotFound: outside the root once links are followed, inside the
                state folder, or hidden while hidden files are not allowed.
        """
        api = self.canonical(api_path)
        parts = api.split("/") if api else []
        if not self.allow_hidden and any(part.startswith(".") for part in parts):
            raise _not_found(api, "hidden path")
        path = self.root.joinpath(*parts)
        real = Path(os.path.realpath(path))
        self._check_real(api, real, resolved_differs=real != path)
        return Target(api, path, real)

    def child(self, parent: Target, name: str) -> Target:
        """The target for ``name`` inside the directory ``parent`` (same checks)."""
        return self.resolve(f"{parent.api}/{name}" if parent.api else name)

    def _check_real(self, api: str, real: Path, *, resolved_differs: bool) -> None:
        real_str = str(real)
        if real_str != self._root_str and not real_str.startswith(self._root_prefix):
            raise _not_found(api, "resolves outside the root")
        if real_str == self._state_str or real_str.startswith(self._state_prefix):
            raise _not_found(api, "inside the state folder")
        if resolved_differs and not self.allow_hidden:
            relative = real_str[len(self._root_prefix) :] if real_str != self._root_str else ""
            if any(part.startswith(".") for part in Path(relative).parts):
                raise _not_found(api, "resolves to a hidden path")

    def listed(self, entry: os.DirEntry[str]) -> os.stat_result | None:
        """The stat of a directory entry that a listing may show, else None.

        ``entry`` must come from scanning a directory's *real* path.  Shown are
        regular files and directories (links followed) that ``resolve`` would
        accept: not hidden, not the state folder, not linking outside the root
        or to something missing, with a UTF-8 name, and not one of Jupyter's
        unlisted names.
        """
        name = entry.name
        if not self.allow_hidden and name.startswith("."):
            return None
        if name in _UNLISTED_NAMES or name.endswith(_UNLISTED_SUFFIXES):
            return None
        if entry.path == self._state_str:
            return None
        if not name.isascii():
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return None  # an undecodable name could not be sent as JSON, nor opened by path
        try:
            if entry.is_symlink():
                real = Path(os.path.realpath(entry.path))
                self._check_real(entry.name, real, resolved_differs=True)
            info = entry.stat()
        except (OSError, FileNotFound):
            # Broken or looping links and unreadable entries are simply not shown.
            return None
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            return None
        return info


def _not_found(api: str, why: str) -> FileNotFound:
    return FileNotFound(f"no such file or directory: {api!r}", log_detail=why)
