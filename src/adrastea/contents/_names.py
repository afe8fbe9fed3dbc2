"""Names the server picks: ``Untitled1.ipynb``, ``Untitled Folder 2``, ``data-Copy1.csv``.

The numbering follows Jupyter Server's ``increment_filename``: the number goes
before the *last* dot of a notebook name and before the *first* dot of any
other name (so ``a.tar.gz`` becomes ``a1.tar.gz``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from adrastea.contents._models import ContentsType

__all__ = ["copy_candidates", "untitled_candidates"]

_COPY_MARK = re.compile(r"-Copy\d*\.")

_UNTITLED: dict[ContentsType, tuple[str, str]] = {
    # type: (base name, what goes before the number)
    "notebook": ("Untitled", ""),
    "file": ("untitled", ""),
    "directory": ("Untitled Folder", " "),
}


def untitled_candidates(kind: ContentsType, ext: str) -> Iterator[str]:
    """Names to try, in order, for a new untitled entry of ``kind``."""
    base, insert = _UNTITLED[kind]
    if kind == "notebook":
        ext = ".ipynb"
    elif kind == "directory":
        ext = ""
    return _numbered(base + ext, insert)


def copy_candidates(name: str) -> Iterator[str]:
    """Names to try, in order, for a copy of ``name`` (``a-Copy1.ipynb`` is a copy of ``a``)."""
    return _numbered(_COPY_MARK.sub(".", name), "-Copy")


def _numbered(name: str, insert: str) -> Iterator[str]:
    stem, dot, suffix = name.rpartition(".")
    if suffix != "ipynb":
        stem, dot, suffix = name.partition(".")
    for number in itertools.count():
        middle = f"{insert}{number}" if number else ""
        yield f"{stem}{middle}{dot}{suffix}"
