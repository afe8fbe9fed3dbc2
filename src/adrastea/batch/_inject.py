"""Parameters injected into an nbformat v4 notebook, exactly where papermill puts them.

A new code cell tagged ``injected-parameters`` replaces an earlier injected cell
where there is one, else goes right after the first cell tagged ``parameters``,
else at the top; ``metadata.papermill.parameters`` records what was injected, so
tools that read papermill's bookkeeping (scrapbook, papermill's own report mode)
read ours too.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adrastea.batch._inspect import assigned_names
from adrastea.batch._parameters import check_name
from adrastea.batch._translate import Translator, find_translator
from adrastea.errors import InvalidNotebook

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


@dataclass(frozen=True)
class Injection:
    """The parameterised notebook and the warnings the caller should show the user."""

    notebook: dict[str, Any]
    warnings: tuple[str, ...]


def notebook_language(nb: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The notebook's kernel name and language, read where papermill reads them.

    The language is ``metadata.language_info.name``, else
    ``metadata.kernelspec.language``; either may be None.
    """
    metadata = nb.get("metadata") or {}
    kernelspec = metadata.get("kernelspec") or {}
    language_info = metadata.get("language_info") or {}
    language = language_info.get("name") or kernelspec.get("language") or None
    return kernelspec.get("name") or None, language


def notebook_translator(nb: Mapping[str, Any]) -> Translator:
    """The translator for ``nb``'s kernel; raises ParameterError for other languages."""
    return find_translator(*notebook_language(nb))


def render_parameters(nb: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    """The source of the cell ``inject_parameters`` would add to ``nb``."""
    return notebook_translator(nb).render(parameters)


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    # On disk nbformat may split a source into a list of lines.
    return "".join(source) if isinstance(source, list) else str(source)


def _first_tagged(cells: list[dict[str, Any]], tag: str) -> int:
    for index, cell in enumerate(cells):
        if tag in ((cell.get("metadata") or {}).get("tags") or ()):
            return index
    return -1


def _new_cell_id(cells: list[dict[str, Any]]) -> str:
    taken = {cell.get("id") for cell in cells}
    while (cell_id := uuid.uuid4().hex[:8]) in taken:
        pass
    return cell_id


def inject_parameters(nb: Mapping[str, Any], parameters: Mapping[str, Any]) -> Injection:
    """Return a copy of ``nb`` with ``parameters`` injected as papermill would.

    ``nb`` is an nbformat v4 notebook as a dict (a ``NotebookNode`` will do) and is
    not modified.  The new cell's source is byte-for-byte papermill's; it gets a
    fresh ``id`` only when the notebook's minor format (4.5+) has cell ids.  Like
    ``papermill.parameterize_notebook``, empty ``parameters`` still inject a cell
    holding just the comment; papermill's CLI skips injection then, and so should
    a caller that wants the same.

    Warnings (returned, not logged): ``Passed unknown parameter: NAME`` for a name
    the ``parameters`` cell does not assign, or one warning that there is no
    ``parameters`` cell at all.

    Raises:
        InvalidNotebook: ``nb`` is not nbformat 4.
        ParameterError: a name is not an identifier, the kernel language has no
            translator, or a value has no literal in it.
    """
    if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("parameters can only be injected into an nbformat 4 notebook")
    for name in parameters:
        check_name(name)
    translator = notebook_translator(nb)
    source = translator.render(parameters)

    out: dict[str, Any] = copy.deepcopy(dict(nb))
    cells: list[dict[str, Any]] = out["cells"]
    new_cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [INJECTED_TAG]},
        "outputs": [],
        "source": source,
    }
    if out.get("nbformat_minor", 0) >= 5:
        new_cell["id"] = _new_cell_id(cells)

    warnings: list[str] = []
    params_at = _first_tagged(cells, PARAMETERS_TAG)
    injected_at = _first_tagged(cells, INJECTED_TAG)
    if injected_at >= 0:
        cells[injected_at] = new_cell
    elif params_at >= 0:
        cells.insert(params_at + 1, new_cell)
    else:
        cells.insert(0, new_cell)

    if params_at < 0:
        warnings.append(
            f"the notebook has no cell tagged {PARAMETERS_TAG!r}; parameters were injected "
            + ("in place of the old injected cell" if injected_at >= 0 else "at the top")
        )
    else:
        known = assigned_names(_source(cells[params_at]), translator.language)
        warnings.extend(
            f"Passed unknown parameter: {name}"
            for name in parameters
            if translator.rename(name) not in known
        )

    metadata = out.setdefault("metadata", {})
    papermill = metadata.get("papermill")
    # Stored as it will read back from the saved file (keys as strings, tuples as
    # lists), so saving never fails on a value the cell source could render.
    metadata["papermill"] = {
        **(papermill if isinstance(papermill, dict) else {}),
        "parameters": json.loads(json.dumps(dict(parameters), default=str)),
    }
    return Injection(notebook=out, warnings=tuple(warnings))
