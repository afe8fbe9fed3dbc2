"""Live notebook documents: the server's copy of each open notebook.

A pure library (no HTTP, nothing of ours but ``adrastea.errors``):

- ``.ipynb`` in and out, losslessly and atomically (:func:`parse_notebook`,
  :func:`read_notebook`, :func:`write_notebook`, :func:`atomic_write`), and into
  a ``jupyter_ydoc.YNotebook`` (:func:`load_notebook`, :func:`dump_notebook`);
- kernel outputs into the document (:class:`OutputWriter`): coalesced streams
  with terminal semantics, display updates, clearing;
- outputs too big for the document spilled to disk (:class:`SpillStore`,
  :func:`cap_notebook`, :func:`merge_spilled`) and read back in pages;
- a journal of Y updates so a crash loses at most about a second
  (:class:`Journal`, :func:`replay`);
- :class:`LiveNotebook`, which ties these together with autosave and
  external-change detection.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrastea.documents._capping import (
        SpillMarker,
        cap_notebook,
        cap_output,
        lazy_spilled,
        merge_output,
        merge_spilled,
        spilled_ids,
    )
    from adrastea.documents._clock import Clock, ManualClock, SystemClock
    from adrastea.documents._events import (
        ConflictDetected,
        DocumentEvent,
        FileChangedOnDisk,
        Reloaded,
        Saved,
        SaveFailed,
    )
    from adrastea.documents._ipynb import (
        CellCache,
        LazyTexts,
        atomic_write,
        encode_notebook,
        parse_notebook,
        read_notebook,
        validate_notebook,
        write_notebook,
    )
    from adrastea.documents._journal import Journal, JournalState, recover_journal, replay
    from adrastea.documents._live import LiveNotebook, document_dir
    from adrastea.documents._outputs import OutputWriter
    from adrastea.documents._spill import SpillPage, SpillStore, SpillStream
    from adrastea.documents._terminal import TerminalText
    from adrastea.documents._validation import compile_validators
    from adrastea.documents._ynotebook import (
        dump_notebook,
        find_cell,
        load_notebook,
        new_ynotebook,
        ymeta,
    )
    from adrastea.documents.types import DocumentOptions, FileStamp, OutputId

_LAZY = {
    "Clock": "adrastea.documents._clock",
    "ConflictDetected": "adrastea.documents._events",
    "DocumentEvent": "adrastea.documents._events",
    "DocumentOptions": "adrastea.documents.types",
    "FileChangedOnDisk": "adrastea.documents._events",
    "FileStamp": "adrastea.documents.types",
    "Journal": "adrastea.documents._journal",
    "JournalState": "adrastea.documents._journal",
    "LazyTexts": "adrastea.documents._ipynb",
    "LiveNotebook": "adrastea.documents._live",
    "ManualClock": "adrastea.documents._clock",
    "OutputId": "adrastea.documents.types",
    "OutputWriter": "adrastea.documents._outputs",
    "Reloaded": "adrastea.documents._events",
    "SaveFailed": "adrastea.documents._events",
    "Saved": "adrastea.documents._events",
    "SpillMarker": "adrastea.documents._capping",
    "SpillPage": "adrastea.documents._spill",
    "SpillStore": "adrastea.documents._spill",
    "SpillStream": "adrastea.documents._spill",
    "SystemClock": "adrastea.documents._clock",
    "TerminalText": "adrastea.documents._terminal",
    "CellCache": "adrastea.documents._ipynb",
    "atomic_write": "adrastea.documents._ipynb",
    "cap_notebook": "adrastea.documents._capping",
    "cap_output": "adrastea.documents._capping",
    "compile_validators": "adrastea.documents._validation",
    "document_dir": "adrastea.documents._live",
    "dump_notebook": "adrastea.documents._ynotebook",
    "encode_notebook": "adrastea.documents._ipynb",
    "find_cell": "adrastea.documents._ynotebook",
    "lazy_spilled": "adrastea.documents._capping",
    "load_notebook": "adrastea.documents._ynotebook",
    "merge_output": "adrastea.documents._capping",
    "merge_spilled": "adrastea.documents._capping",
    "new_ynotebook": "adrastea.documents._ynotebook",
    "parse_notebook": "adrastea.documents._ipynb",
    "read_notebook": "adrastea.documents._ipynb",
    "recover_journal": "adrastea.documents._journal",
    "replay": "adrastea.documents._journal",
    "spilled_ids": "adrastea.documents._capping",
    "validate_notebook": "adrastea.documents._ipynb",
    "write_notebook": "adrastea.documents._ipynb",
    "ymeta": "adrastea.documents._ynotebook",
}

__all__ = [
    "CellCache",
    "Clock",
    "ConflictDetected",
    "DocumentEvent",
    "DocumentOptions",
    "FileChangedOnDisk",
    "FileStamp",
    "Journal",
    "JournalState",
    "LazyTexts",
    "LiveNotebook",
    "ManualClock",
    "OutputId",
    "OutputWriter",
    "Reloaded",
    "SaveFailed",
    "Saved",
    "SpillMarker",
    "SpillPage",
    "SpillStore",
    "SpillStream",
    "SystemClock",
    "TerminalText",
    "atomic_write",
    "cap_notebook",
    "cap_output",
    "compile_validators",
    "document_dir",
    "dump_notebook",
    "encode_notebook",
    "find_cell",
    "lazy_spilled",
    "load_notebook",
    "merge_output",
    "merge_spilled",
    "new_ynotebook",
    "parse_notebook",
    "read_notebook",
    "recover_journal",
    "replay",
    "spilled_ids",
    "validate_notebook",
    "write_notebook",
    "ymeta",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: reading a notebook must not pay for pycrdt.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'adrastea.documents' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
