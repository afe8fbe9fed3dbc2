"""The ``.ipynb`` file: parse and validate, encode exactly as nbformat does, write atomically.

Notebooks here are plain nbformat v4 dicts ("in-memory form": multi-line
strings joined, as ``nbformat.reads`` returns them).  Encoding produces the same
bytes as ``nbformat.writes`` plus a final newline (what ``nbformat.write``
puts on disk), so files we save diff cleanly against files Jupyter saved.

Encoding can splice *lazy texts* into the output: a placeholder string stands in
for a text that is produced chunk by chunk while writing (a 50 MB spilled
stream), so the whole text never has to be in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from json.encoder import encode_basestring as _encode_string
from pathlib import Path
from typing import Any

from adrastea.documents._validation import check_schema, new_cell_id
from adrastea.documents.types import FileStamp
from adrastea.errors import FileNotFound, InvalidNotebook

__all__ = [
    "CellCache",
    "LazyTexts",
    "atomic_write",
    "check_output",
    "encode_notebook",
    "parse_notebook",
    "read_file",
    "read_notebook",
    "validate_notebook",
    "write_chunks_atomically",
    "write_notebook",
]

Notebook = dict[str, Any]

_WRITE_BATCH = 1 << 18
# nbformat's layout: json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False).
_ENCODER = json.JSONEncoder(indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
_MAX_DETAIL = 2000
# Characters str.splitlines() breaks on; nbformat splits text with it.
_LINE_ENDS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# nbformat splits these mime types into lines besides every text/* one.
_SPLIT_MIMES = frozenset({"application/javascript", "image/svg+xml"})


def parse_notebook(data: bytes | str) -> Notebook:
    """Parse ``.ipynb`` text into a validated v4 notebook in in-memory form.

    Multi-line strings are joined and transient keys dropped, as
    ``nbformat.reads`` does.  Notebooks older than v4 are converted to v4, as
    Jupyter does.  Missing or duplicate cell ids of a v4.5+ notebook are
    repaired the way nbformat does (fresh ids); v4.0-4.4 notebooks have no ids
    and get none here.

    Raises:
        InvalidNotebook: not JSON, an unknown format version, or not valid
            against the nbformat schema; the detail carries the reason.
    """
    try:
        nb = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidNotebook(f"the notebook is not valid JSON: {exc}"[:_MAX_DETAIL]) from exc
    if isinstance(nb, dict) and nb.get("nbformat") in (1, 2, 3):
        nb = _upgrade(nb)
    return normalize_notebook(nb)


def normalize_notebook(nb: Any) -> Notebook:
    """Validate a freshly decoded v4 notebook and bring it to in-memory form, in place.

    Raises:
        InvalidNotebook: see :func:`validate_notebook`.
    """
    validate_notebook(nb)
    rejoin_lines(nb)
    _strip_transient(nb)
    return nb  # type: ignore[no-any-return]


def check_output(output: dict[str, Any]) -> dict[str, Any]:
    """Validate one freshly decoded output and bring it to in-memory form, in place.

    Raises:
        InvalidNotebook: not a valid nbformat v4 output.
    """
    # A v4.4 notebook around it: the one schema check we have, and no cell id needed.
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {}}
    holder = {"cells": [{**cell, "source": "", "outputs": [output]}], "metadata": {}}
    check_schema({**holder, "nbformat": 4, "nbformat_minor": 4}, 4)
    rejoin_output(output)
    return output


def validate_notebook(nb: Any) -> None:
    """Check ``nb`` against nbformat's v4 schema, repairing cell ids of v4.5+ in place.

    Uses nbformat's own schema files (compiled with fastjsonschema, as nbformat
    does) without importing nbformat, whose import takes seconds.

    Raises:
        InvalidNotebook: the notebook does not validate; the detail says where.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("not a notebook: expected an object with a 'cells' list")
    major, minor = nb.get("nbformat"), nb.get("nbformat_minor")
    if major != 4 or type(minor) is not int or minor < 0:
        raise InvalidNotebook(f"unsupported notebook format {major!r}.{minor!r} (expected 4.x)")
    if minor >= 5:
        _repair_ids(nb["cells"])
    check_schema(nb, minor)


def _repair_ids(cells: list[Any]) -> None:
    # What nbformat's normalize() does for v4.5+: every cell gets a unique id.
    seen: set[Any] = set()
    for cell in cells:
        if isinstance(cell, dict):
            if "id" not in cell or cell["id"] in seen:
                cell["id"] = new_cell_id()
            seen.add(cell["id"])


def _upgrade(nb: dict[str, Any]) -> dict[str, Any]:
    # Rare: pay for importing nbformat only here.
    import nbformat

    try:
        node = nbformat.versions[nb["nbformat"]].to_notebook_json(nb)
        return dict(nbformat.convert(node, 4))
    except Exception as exc:  # nbformat raises many things on garbage
        raise InvalidNotebook(f"cannot convert this old notebook: {exc}"[:_MAX_DETAIL]) from exc


def rejoin_lines(nb: dict[str, Any]) -> None:
    """Join multi-line strings in place, as nbformat's ``rejoin_lines`` does."""
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        for bundle in (cell.get("attachments") or {}).values():
            _rejoin_bundle(bundle)
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            rejoin_output(output)


def rejoin_output(output: dict[str, Any]) -> None:
    """Join the multi-line strings of one output in place (see :func:`rejoin_lines`)."""
    if output.get("output_type") in ("execute_result", "display_data"):
        _rejoin_bundle(output.get("data", {}))
    elif isinstance(output.get("text"), list):
        output["text"] = "".join(output["text"])


def _rejoin_bundle(bundle: dict[str, Any]) -> None:
    for mime, value in bundle.items():
        is_json = mime == "application/json" or (
            mime.startswith("application/") and mime.endswith("+json")
        )
        if not is_json and isinstance(value, list) and all(isinstance(v, str) for v in value):
            bundle[mime] = "".join(value)


def _strip_transient(nb: dict[str, Any]) -> None:
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        nb["metadata"].pop(key, None)
    for cell in nb["cells"]:
        cell["metadata"].pop("trusted", None)


def read_notebook(path: Path) -> tuple[Notebook, FileStamp]:
    """Read, parse and validate ``path``; also stamp the exact bytes that were read.

    Blocking; call it off the event loop for big files.

    Raises:
        FileNotFound: ``path`` does not exist.
        InvalidNotebook: see :func:`parse_notebook`.
    """
    data, st = read_file(path)
    return parse_notebook(data), FileStamp.of_bytes(data, st)


def read_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of the notebook file ``path`` and its status as they were read.

    Raises:
        FileNotFound: ``path`` does not exist.
    """
    try:
        with path.open("rb") as f:
            return f.read(), os.fstat(f.fileno())
    except FileNotFoundError as exc:
        raise FileNotFound(f"no such notebook: {path}") from exc


class LazyTexts:
    """Texts produced while writing, each standing in a notebook under a placeholder.

    ``token = lazy.add(chunks)`` returns a string to put where the text belongs
    (a stream output's ``text``, a mime value); :func:`encode_notebook` replaces
    it with the chunks of ``chunks()``.  Split fields (stream text, ``text/*``)
    are emitted as a list of lines exactly as nbformat would split the whole text.
    """

    def __init__(self) -> None:
        self._nonce = uuid.uuid4().hex
        self._suppliers: list[Callable[[], Iterable[str]]] = []

    def add(self, chunks: Callable[[], Iterable[str]]) -> str:
        """Register a text; returns its placeholder."""
        self._suppliers.append(chunks)
        return f"\x00adrastea-lazy:{self._nonce}:{len(self._suppliers) - 1}\x00"

    def __len__(self) -> int:
        return len(self._suppliers)

    @property
    def _marker(self) -> str:
        # The placeholder as it appears JSON-encoded, up to its index.
        return f'"\\u0000adrastea-lazy:{self._nonce}:'

    def _supplier(self, index: int) -> Callable[[], Iterable[str]]:
        return self._suppliers[index]


def encode_notebook(nb: Mapping[str, Any], lazy: LazyTexts | None = None) -> Iterator[str]:
    """Yield the file text of ``nb`` in pieces: nbformat's exact layout, final newline included.

    ``nb`` is in in-memory form and is not modified.  Lazy texts are spliced in.
    """
    chunks = _ENCODER.iterencode(_disk_form(nb))
    if lazy is None or not len(lazy):
        yield from chunks
    else:
        marker = lazy._marker
        for chunk in chunks:
            if marker in chunk:
                yield from _splice(chunk, marker, lazy)
            else:
                yield chunk
    yield "\n"


class CellCache:
    """Encodes a notebook again and again, re-encoding only the cells said to have changed.

    ``encode(nb)`` returns exactly ``"".join(encode_notebook(nb))``, provided
    every cell changed since the last call was passed to :meth:`changed` (cells
    are known by id; new, removed and moved cells need no call).  For
    ``adrastea run``, which saves after every cell: one save then costs the
    cell that ran, not the whole notebook.
    """

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def changed(self, cell_id: str) -> None:
        """Forget the encoded text of ``cell_id``."""
        self._texts.pop(cell_id, None)

    def encode(self, nb: Mapping[str, Any]) -> str:
        cells = nb.get("cells", [])
        texts = []
        for cell in cells:
            cell_id = cell.get("id")
            text = self._texts.get(cell_id) if isinstance(cell_id, str) else None
            if text is None:
                # A cell inside the "cells" list sits two levels deep; JSON
                # strings hold no raw newline, so indenting lines is exact.
                text = "  " + _ENCODER.encode(_disk_cell(cell)).replace("\n", "\n  ")
                if isinstance(cell_id, str):
                    self._texts[cell_id] = text
            texts.append(text)
        head = "".join(encode_notebook({**nb, "cells": []}))
        if not texts:
            return head
        return head.replace('{\n "cells": []', '{\n "cells": [\n' + ",\n".join(texts) + "\n ]", 1)


def write_notebook(path: Path, nb: Mapping[str, Any], lazy: LazyTexts | None = None) -> FileStamp:
    """Write ``nb`` to ``path`` atomically (see :func:`atomic_write`); returns the new stamp.

    Blocking; call it off the event loop.  Does not validate: callers do.
    """
    return _write_atomically(path, _batched(encode_notebook(nb, lazy)))


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> FileStamp:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half.

    A temporary file in the same folder is written and fsynced, renamed over
    ``path`` with ``os.replace``, then the folder is fsynced so the rename
    survives a crash.  The file keeps its permission bits (new files get
    ``0o666`` minus the umask); a symlink is followed and its target replaced.
    On failure the temporary file is removed and ``path`` is untouched.

    ``durable=False`` skips both fsyncs: the replace is still atomic and
    survives the writer being killed, but not a crash of the machine.  For
    state rewritten many times a second whose loss in a power cut is harmless.
    """
    return _write_atomically(path, [data], durable=durable)


def write_chunks_atomically(path: Path, chunks: Iterable[bytes | memoryview]) -> None:
    """Like :func:`atomic_write` (durable) for data given in pieces, without hashing it
    (a caller that needs the hash can compute it in parallel)."""
    _write_atomically(path, chunks, hashed=False)


def _write_atomically(
    path: Path, chunks: Iterable[bytes | memoryview], *, durable: bool = True, hashed: bool = True
) -> FileStamp:
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, target.stat().st_mode & 0o7777)
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                if hashed:
                    digest.update(chunk)
                f.write(chunk)
            f.flush()
            if durable:
                os.fsync(f.fileno())
            # rename keeps the mtime, so this is the stamp the file will have.
            st = os.fstat(f.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(target.parent)
    return FileStamp(st.st_mtime_ns, st.st_size, digest.hexdigest())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _batched(pieces: Iterable[str]) -> Iterator[bytes]:
    # iterencode yields tiny strings; encode and write them in large batches.
    batch: list[str] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= _WRITE_BATCH:
            yield "".join(batch).encode()
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode()


def _splice(chunk: str, marker: str, lazy: LazyTexts) -> Iterator[str]:
    while (start := chunk.find(marker)) >= 0:
        end = chunk.index('\\u0000"', start + len(marker)) + len('\\u0000"')
        index = int(chunk[start + len(marker) : end - len('\\u0000"')])
        before = chunk[:start]
        yield before
        texts = lazy._supplier(index)()
        if before.rstrip(" ").endswith("[\n"):
            # The placeholder is the only line of a split field: emit one item per line.
            indent = before[before.rfind("\n") + 1 :]
            yield from _json_lines(texts, ",\n" + indent)
        else:
            yield '"'
            for text in texts:
                yield _json_body(text)
            yield '"'
        chunk = chunk[end:]
    yield chunk


def _json_body(text: str) -> str:
    return _encode_string(text)[1:-1]


def _json_lines(texts: Iterable[str], separator: str) -> Iterator[str]:
    """Emit ``"".join(texts).splitlines(True)`` as JSON list items, chunk by chunk.

    A line may span chunks (it is emitted as one string, opened in one chunk
    and closed in a later one), and so may a ``\\r\\n`` pair.
    """
    first = True
    in_string = False
    pending_cr = False
    for text in texts:
        if not text:
            continue
        if pending_cr:
            if text[0] == "\n":
                yield "\\n"
                text = text[1:]
            yield '"'
            in_string = pending_cr = False
            if not text:
                continue
        pieces = text.splitlines(True)
        start = 0
        if in_string:
            # The first piece continues the line left open by the previous chunk.
            yield _json_body(pieces[0])
            start = 1
            if pieces[0][-1] in _LINE_ENDS and not (pieces[0][-1] == "\r" and len(pieces) == 1):
                yield '"'
                in_string = False
            elif len(pieces) == 1:
                pending_cr = pieces[0][-1] == "\r"
                continue
        middle = pieces[start:-1]
        if middle:
            # Complete lines: the bulk of a big stream, encoded in one go.
            yield ("" if first else separator) + separator.join(map(_encode_string, middle))
            first = False
        if start < len(pieces):
            last = pieces[-1]
            yield ("" if first else separator) + '"' + _json_body(last)
            first = False
            in_string = True
            if last[-1] == "\r":
                pending_cr = True
            elif last[-1] in _LINE_ENDS:
                yield '"'
                in_string = False
    if in_string:
        yield '"'
    elif first:
        yield '""'


def _disk_form(nb: Mapping[str, Any]) -> dict[str, Any]:
    """``nb`` as nbformat writes it: multi-line strings split, transient keys dropped.

    Builds new containers only where something changes; big values are shared.
    """
    out = dict(nb)
    metadata = dict(nb.get("metadata", {}))
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        metadata.pop(key, None)
    out["metadata"] = metadata
    out["cells"] = [_disk_cell(cell) for cell in nb.get("cells", [])]
    return out


def _disk_cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(cell)
    if "metadata" in cell and "trusted" in cell["metadata"]:
        out["metadata"] = {k: v for k, v in cell["metadata"].items() if k != "trusted"}
    if isinstance(cell.get("source"), str):
        out["source"] = cell["source"].splitlines(True)
    if isinstance(cell.get("attachments"), dict):
        out["attachments"] = {
            name: _split_bundle(bundle) for name, bundle in cell["attachments"].items()
        }
    if cell.get("cell_type") == "code" and isinstance(cell.get("outputs"), list):
        out["outputs"] = [_disk_output(output) for output in cell["outputs"]]
    return out


def _disk_output(output: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(output)
    kind = output.get("output_type")
    if kind in ("execute_result", "display_data") and isinstance(output.get("data"), dict):
        out["data"] = _split_bundle(output["data"])
    elif kind == "stream" and isinstance(output.get("text"), str):
        out["text"] = output["text"].splitlines(True)
    return out


def _split_bundle(bundle: Any) -> Any:
    if not isinstance(bundle, dict):
        return bundle
    return {
        mime: value.splitlines(True)
        if isinstance(value, str) and (mime.startswith("text/") or mime in _SPLIT_MIMES)
        else value
        for mime, value in bundle.items()
    }
