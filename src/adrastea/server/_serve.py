"""Run the app under uvicorn on a socket we bind ourselves.

Binding first lets ``--port 0`` print the real port, and lets us set
``TCP_NODELAY`` on the listening socket (inherited by accepted sockets on
Linux) so small kernel messages are not held back by Nagle's algorithm.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import webbrowser

from adrastea.config import Settings
from adrastea.server.auth import generate_token


def bind_socket(ip: str, port: int) -> socket.socket:
    """A listening TCP socket on ``ip:port`` with SO_REUSEADDR and TCP_NODELAY."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((ip, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(settings: Settings) -> None:
    """Serve until Ctrl-C / SIGTERM, then shut down kernels and exit."""
    import uvicorn

    from adrastea.server.app import create_app

    token = settings.server.token or generate_token()
    app = create_app(settings, token)
    sock = bind_socket(settings.server.ip, settings.server.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={token}"
    # No permessage-deflate: kernel messages are small and latency-bound, and
    # compressing them costs server CPU for nothing (Jupyter Server does not).
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
    )
    root = settings.server.root_dir.expanduser().resolve()

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            # Printed only once the app's services are up: whoever reads the
            # URL (a person, a test, a spawner) can use it at once.
            print(f"Adrastea is serving {root}", flush=True)
            print(f"    {url}", flush=True)
            if settings.server.open_browser:
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    server = _Server(config)
    # uvicorn re-raises the SIGINT it handled; the shutdown has already run.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    print("Adrastea stopped.", flush=True)
