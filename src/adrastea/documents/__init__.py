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
from adrastea.documents._ynotebook import (
    dump_notebook,
    find_cell,
    load_notebook,
    new_ynotebook,
    ymeta,
)
from adrastea.documents.types import DocumentOptions, FileStamp, OutputId

__all__ = [
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
