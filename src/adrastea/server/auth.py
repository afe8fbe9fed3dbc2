"""Token authentication and XSRF protection for every route.

A request is authenticated by, in order:

1. ``Authorization: token <T>`` (or ``Bearer <T>``) -- scripts and other
   Jupyter clients; exempt from XSRF checks because browsers never add it on
   their own;
2. ``?token=<T>`` in the URL -- a browser's first visit; the response sets the
   auth cookie so the token need not stay in the address bar;
3. the auth cookie -- then unsafe methods (POST, PUT, PATCH, DELETE) must echo
   the ``_xsrf`` cookie in an ``X-XSRFToken`` header (Jupyter's double-submit
   scheme), and WebSockets must come from the same origin.

Anything else gets 403 as problem+json, on every route (HTTP and WebSocket).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adrastea.server.problems import problem_response

__all__ = ["AUTH_COOKIE", "XSRF_COOKIE", "TokenAuthMiddleware", "generate_token"]

AUTH_COOKIE = "adrastea-auth"
XSRF_COOKIE = "_xsrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def generate_token() -> str:
    """A fresh random access token (48 hex characters)."""
    return secrets.token_hex(24)


class TokenAuthMiddleware:
    """Pure ASGI middleware that refuses everything not carrying the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token
        # The cookie holds a MAC of the token, never the token itself.
        self._cookie_value = hmac.new(token.encode(), b"auth-cookie", hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", ""))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

        how = self._authenticate(headers, cookies, query)
        refusal: str | None = None
        if how is None:
            refusal = "missing or invalid token"
        elif how == "cookie":
            refusal = self._cookie_refusal(scope, headers, cookies)
        if refusal is not None:
            await self._refuse(scope, receive, send, refusal)
            return

        if how == "query" and scope["type"] == "http":
            send = self._setting_cookies(send, cookies)
        await self.app(scope, receive, send)

    def _authenticate(
        self, headers: dict[str, str], cookies: dict[str, str], query: dict[str, list[str]]
    ) -> str | None:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("token", "bearer") and _same(value.strip(), self._token):
            return "header"
        if any(_same(t, self._token) for t in query.get("token", [])):
            return "query"
        if _same(cookies.get(AUTH_COOKIE, ""), self._cookie_value):
            return "cookie"
        return None

    @staticmethod
    def _cookie_refusal(
        scope: Scope, headers: dict[str, str], cookies: dict[str, str]
    ) -> str | None:
        if scope["type"] == "websocket":
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != headers.get("host"):
                return "cross-origin WebSocket refused"
            return None
        if scope["method"] in _SAFE_METHODS:
            return None
        xsrf = cookies.get(XSRF_COOKIE, "")
        if not xsrf or not _same(headers.get("x-xsrftoken", ""), xsrf):
            return "XSRF check failed: send the _xsrf cookie's value in X-XSRFToken"
        return None

    def _setting_cookies(self, send: Send, cookies: dict[str, str]) -> Send:
        xsrf = cookies.get(XSRF_COOKIE) or secrets.token_hex(16)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.append(
                    "set-cookie",
                    f"{AUTH_COOKIE}={self._cookie_value}; Path=/; HttpOnly; SameSite=Lax",
                )
                out.append("set-cookie", f"{XSRF_COOKIE}={xsrf}; Path=/; SameSite=Lax")
            await send(message)

        return wrapped

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        if scope["type"] == "websocket":
            # Closing before accept makes the server answer the handshake with 403.
            await receive()
            await send({"type": "websocket.close", "code": 1008, "reason": detail})
            return
        response = problem_response(403, detail, code="forbidden")
        await response(scope, receive, send)


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is simply no cookies
        return {}
    return {key: morsel.value for key, morsel in jar.items()}
