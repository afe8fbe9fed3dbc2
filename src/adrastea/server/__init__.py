"""The single-user HTTP server: app factory, auth, error mapping, routers."""

from __future__ import annotations

from adrastea.server.app import create_app

__all__ = ["create_app"]
