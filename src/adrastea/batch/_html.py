"""``adrastea report``: an executed notebook rendered to HTML with nbconvert."""

from __future__ import annotations

from pathlib import Path

from adrastea.batch._run import read_notebook
from adrastea.documents import atomic_write
from adrastea.errors import BadRequest


def render_html(notebook: Path, html: Path | None = None) -> Path:
    """Render ``notebook`` (outputs as they are) to ``html`` (default: beside it).

    Untrusted HTML and JavaScript in outputs are not run by nbconvert's
    static HTML; the page is as safe as JupyterLab's rendering of the file.

    Raises:
        InvalidNotebook: the file is missing or not a valid notebook.
        BadRequest: nbconvert is not installed.
    """
    nb = read_notebook(notebook)
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError as exc:  # pragma: no cover - nbconvert is a dependency
        raise BadRequest("adrastea report needs nbconvert: pip install nbconvert") from exc
    body, _ = HTMLExporter().from_notebook_node(nbformat.from_dict(nb))
    target = html or notebook.with_suffix(".html")
    atomic_write(target, body.encode("utf-8"))
    return target
