"""Map errors to RFC 9457 ``application/problem+json`` responses, in one place.

Every error response of the server has the shape
``{"type", "title", "status", "detail", "code"}`` plus optional extras
(``errors`` for validation failures, ``field`` for invalid choices).  WebSocket
close codes for domain errors are chosen here too.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from adrastea.errors import AdrasteaError, InvalidChoice

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_response", "ws_close_code"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_HTTP_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
}


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; the one constructor every error path uses."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _HTTP_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code or f"http-{status}",
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _from_domain(exc: AdrasteaError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidChoice):
        extra["field"] = exc.field
    if exc.status >= 500:
        log.error("%s: %s %s", exc.code, exc.detail, exc.log_detail or "")
    return problem_response(exc.status, exc.detail, code=exc.code, title=exc.title, **extra)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid"))
        errors.append({"loc": loc, "msg": msg})
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts) or "invalid request", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Register the exception handlers that produce problem+json responses."""

    async def domain(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AdrasteaError)
        return _from_domain(exc)

    async def validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail, errors = _validation_detail(exc)
        return problem_response(400, detail, code="invalid-request", errors=errors)

    async def http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            exc.status_code, str(exc.detail), headers=dict(exc.headers or {}) or None
        )

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal server error; see the server log", code="internal")

    app.add_exception_handler(AdrasteaError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unexpected)


def ws_close_code(exc: BaseException) -> int:
    """The WebSocket close code for an error raised while serving a socket.

    4000 + HTTP status for domain errors (4404: not found), 1011 otherwise.
    """
    if isinstance(exc, AdrasteaError):
        return 4000 + exc.status
    return 1011
