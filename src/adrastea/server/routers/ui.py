"""The browser UI: the single-page app and its static assets.

``GET /`` redirects to the file browser; ``/tree/…``, ``/notebooks/…`` and
``/edit/…`` all answer with the app's ``index.html`` (the app reads the path
from the address bar), so reloads and deep links work.  ``/static/…`` serves
the bundle built from ``ui/`` into ``adrastea/static``: names carrying a
content hash are cached for a year, everything else is revalidated.

Like every route, these need the token (``?token=`` on a first visit sets the
auth cookie, see ``auth``); the routes are left out of the OpenAPI spec, which
describes the API, not the app.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from adrastea.errors import NotFound

router = APIRouter(tags=["ui"], include_in_schema=False)

#: Where the built bundle lives inside the package.
STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"

# esbuild names hashed outputs ``name-HASH.ext`` (8 base32 characters).
_HASHED = re.compile(r"-[A-Z0-9]{8}\.[a-z0-9]+$")
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


def _index() -> Response:
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        raise NotFound("the browser UI is not built; run `npm run build` in ui/")
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": _REVALIDATE})


@router.get("/")
async def root() -> Response:
    """Send the browser to the file browser (the auth cookie is set on this response)."""
    return RedirectResponse("/tree/", status_code=302)


@router.get("/tree")
@router.get("/tree/{path:path}")
async def tree(path: str = "") -> Response:
    """The app, showing the folder ``path``."""
    return _index()


@router.get("/notebooks/{path:path}")
async def notebook(path: str) -> Response:
    """The app, showing the notebook ``path``."""
    return _index()


@router.get("/edit/{path:path}")
async def edit(path: str) -> Response:
    """The app, editing the text file ``path``."""
    return _index()


@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    """A file of the built bundle; 404 for anything outside it.

    Raises:
        NotFound: no such asset (or the path tries to leave the folder).
    """
    base = STATIC_DIR.resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise NotFound(f"no static asset {path!r}")
    cache = _IMMUTABLE if _HASHED.search(target.name) else _REVALIDATE
    return FileResponse(target, headers={"Cache-Control": cache})
