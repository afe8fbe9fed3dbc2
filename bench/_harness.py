"""Shared machinery for the benchmarks: servers, targets, kernel messages, stats, tables.

Every benchmark measures the incumbent and Adrastea side by side in the same
run, because the machine is small and shared: absolute numbers drift, ratios
taken within one run are what we compare.  A *target* is something we measure:

- ``direct``: jupyter_client talking ZMQ to a kernel, no server in between
  (kernel benchmarks only);
- ``jupyter_server``: stock ``jupyter server`` started here as a subprocess;
- ``adrastea``: ``adrastea serve`` started here via ``adrastea.testing.ServerProcess``;
- ``external``: an already running server given with ``--url URL --token TOKEN``.

All traffic stays on loopback, every wait is bounded, and every server started
here is stopped (SIGTERM or SIGINT, then SIGKILL after a grace period) on the
way out, error or not.  Progress goes to stderr; results (markdown) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

__all__ = [
    "SERVER_TARGETS",
    "KernelWebSocket",
    "Summary",
    "Target",
    "add_target_args",
    "adrastea_server",
    "cpu_seconds",
    "die",
    "environment_line",
    "format_table",
    "free_port",
    "http_request",
    "jupyter_server",
    "kernel_content",
    "log",
    "make_message",
    "open_server_targets",
    "populate_small_files",
    "ratio",
    "selected_targets",
    "summarize",
    "wait_for_status",
]

SERVER_TARGETS = ("jupyter_server", "adrastea")
STARTUP_TIMEOUT = 60.0
STOP_GRACE = 15.0
KERNEL_NAME = "python3"


def log(message: str) -> None:
    """Progress for the person watching; stdout stays clean for the results."""
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def die(message: str, code: int = 2) -> None:
    """Print ``message`` to stderr and exit with ``code``."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """A server to measure: base URL (``http://host:port``), token, pid if started here."""

    name: str
    url: str
    token: str
    pid: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def ws_url(self, path: str) -> str:
        return "ws" + self.url.removeprefix("http") + path


def add_target_args(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    """Add ``--url``, ``--token`` and ``--targets`` (comma-separated ``choices``)."""
    parser.add_argument("--url", help="measure this already running server (http://host:port)")
    parser.add_argument("--token", default="", help="token of the server given with --url")
    parser.add_argument(
        "--pid", type=int, help="process id of the --url server, to report its CPU time too"
    )
    parser.add_argument(
        "--targets",
        help=f"comma-separated subset of {','.join(choices)}"
        " (default: all; with --url: the baseline and 'external')",
    )


def selected_targets(args: argparse.Namespace, choices: Sequence[str], baseline: str) -> list[str]:
    """The target names to run, in ``choices`` order, validated."""
    allowed = [*choices, "external"] if args.url else list(choices)
    if args.targets:
        wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    elif args.url:
        wanted = [baseline, "external"]
    else:
        wanted = list(choices)
    unknown = [t for t in wanted if t not in allowed]
    if unknown:
        die(f"unknown target(s) {unknown}; choose from {allowed}")
    if "external" in wanted and not args.url:
        die("target 'external' needs --url")
    if args.url:
        parts = urlsplit(args.url)
        if parts.scheme != "http" or not parts.hostname:
            die(f"--url must look like http://127.0.0.1:8888, not {args.url!r}")
        if not _is_loopback(parts.hostname):
            die(f"--url must be a loopback address (benchmarks stay on this machine): {args.url}")
    return [t for t in allowed if t in wanted]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return all(a.startswith("127.") or a == "::1" for a in addresses)


@contextlib.contextmanager
def open_server_targets(
    names: Sequence[str],
    args: argparse.Namespace,
    populate: Callable[[Path], None] | None = None,
) -> Iterator[dict[str, Target]]:
    """Start the servers among ``names`` (each in its own temporary root) for the block.

    ``populate(root)`` fills each root first, so that both servers serve the
    same kind of folder.  ``external`` is the ``--url`` server, started by
    someone else and left alone.  Servers are stopped on exit, error or not.
    """
    with contextlib.ExitStack() as stack:
        targets: dict[str, Target] = {}
        for name in names:
            if name == "external":
                targets[name] = Target("external", args.url.rstrip("/"), args.token, args.pid)
                try:
                    wait_for_status(targets[name], timeout=10.0)
                except RuntimeError as exc:
                    die(str(exc))
                continue
            if name not in SERVER_TARGETS:
                continue
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{name}-")))
            if populate is not None:
                populate(root)
            starter = jupyter_server if name == "jupyter_server" else adrastea_server
            log(f"starting {name} (root {root})")
            try:
                targets[name] = stack.enter_context(starter(root, secrets.token_hex(16)))
            except RuntimeError as exc:  # servers already started are stopped on the way out
                die(str(exc))
            log(f"{name} is up at {targets[name].url}")
        yield targets


def populate_small_files(root: Path, count: int = 100) -> None:
    """Fill ``root`` with ``count`` small text files (about 100 bytes each)."""
    for i in range(count):
        line = f"file {i:03d}: the quick brown fox jumps over the lazy dog\n"
        (root / f"file_{i:03d}.txt").write_text(line * 2)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_request(
    target: Target,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """One blocking HTTP request with the token; returns ``(status, parsed JSON or None)``."""
    parts = urlsplit(target.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(target.headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw.decode(errors="replace")[:200]
    return response.status, data


def wait_for_status(
    target: Target, timeout: float, alive: Callable[[], bool] | None = None
) -> None:
    """Poll ``GET /api/status`` until it answers 200; raise ``RuntimeError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"{target.name} exited while starting")
        try:
            status, _ = http_request(target, "GET", "/api/status", timeout=2.0)
        except OSError as exc:
            last = repr(exc)
        else:
            if status == 200:
                return
            last = f"HTTP {status}"
        time.sleep(0.1)
    raise RuntimeError(f"{target.name} at {target.url}: /api/status did not answer 200 ({last})")


def _running(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is None


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def jupyter_server(root: Path, token: str) -> Iterator[Target]:
    """Stock ``jupyter server`` on a free loopback port, serving ``root``, for the block.

    Its output goes to ``root/../<root name>.log`` (kept out of the served
    folder); on a failed start the tail of that log is in the error.
    """
    log_path = root.with_suffix(".log")
    for _attempt in range(3):  # the free port may be taken between probe and bind
        port = free_port()
        args = [
            sys.executable, "-m", "jupyter", "server", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")  # containers and CI run us as root
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        target = Target("jupyter_server", f"http://127.0.0.1:{port}", token, proc.pid)
        try:
            wait_for_status(target, STARTUP_TIMEOUT, alive=_running(proc))
        except RuntimeError:
            _stop(proc, signal.SIGTERM, STOP_GRACE)
            tail = log_path.read_text(errors="replace")[-2000:]
            if "already in use" in tail:
                continue
            raise RuntimeError(f"jupyter server did not start:\n{tail}") from None
        try:
            yield target
        finally:
            # SIGTERM is jupyter_server's clean shutdown (kernels included);
            # SIGINT would ask for confirmation on a terminal.
            _stop(proc, signal.SIGTERM, STOP_GRACE)
            log_path.unlink(missing_ok=True)
        return
    raise RuntimeError("jupyter server: no free port after 3 attempts")


@contextlib.contextmanager
def adrastea_server(root: Path, token: str) -> Iterator[Target]:
    """``adrastea serve root`` via ``adrastea.testing.ServerProcess``, for the block."""
    from adrastea.testing import ServerProcess

    server = ServerProcess(root, token=token, startup_timeout=STARTUP_TIMEOUT).start()
    try:
        target = Target("adrastea", server.url, token, server.pid)
        wait_for_status(target, STARTUP_TIMEOUT)
        yield target
    finally:
        server.stop(STOP_GRACE)


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time used so far by process ``pid`` (all its threads), or None.

    CPU time per request is far less disturbed by other work on a shared
    machine than requests per second, so tables show both.  Linux only.
    """
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime, stime are fields 14, 15.
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- kernel messages


def make_message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    """A Jupyter message (legacy JSON WebSocket shape) for the shell channel."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "bench",
            "session": session,
            "date": dt.datetime.now(dt.UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


def kernel_content(code: str) -> dict[str, Any]:
    """The ``execute_request`` content every client here sends (as JupyterLab does)."""
    return {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }


def _decode_legacy(frame: str | bytes) -> dict[str, Any]:
    """Decode a legacy-protocol frame: JSON text, or the binary buffers layout."""
    if isinstance(frame, str):
        decoded: dict[str, Any] = json.loads(frame)
        return decoded
    # Binary: uint32 count n, n uint32 offsets; part 0 is the JSON message.
    count = int.from_bytes(frame[:4], "big")
    offsets = [int.from_bytes(frame[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    end = offsets[1] if count > 1 else len(frame)
    decoded = json.loads(frame[offsets[0] : end])
    return decoded


class KernelWebSocket:
    """A client of ``/api/kernels/{id}/channels`` speaking the legacy JSON protocol."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.session = uuid.uuid4().hex

    @classmethod
    async def open(
        cls, target: Target, kernel_id: str, compression: str | None, limit: float = 30.0
    ) -> KernelWebSocket:
        """Connect (within ``limit`` seconds) with the token header and no subprotocol."""
        url = target.ws_url(f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
        ws = await connect(
            url,
            additional_headers=target.headers,
            compression=compression,
            max_size=None,
            open_timeout=limit,
            ping_interval=None,
            proxy=None,
        )
        return cls(ws)

    @property
    def extensions(self) -> str:
        """The negotiated WebSocket extensions, e.g. ``permessage-deflate`` or ``none``."""
        names = [ext.name for ext in self.ws.protocol.extensions]
        return ",".join(names) or "none"

    async def send(self, msg_type: str, content: dict[str, Any]) -> str:
        """Send a shell message; returns its msg_id."""
        message = make_message(msg_type, content, self.session)
        await self.ws.send(json.dumps(message))
        msg_id: str = message["header"]["msg_id"]
        return msg_id

    async def recv(self, limit: float) -> dict[str, Any]:
        """The next message, or ``TimeoutError`` after ``limit`` seconds."""
        return _decode_legacy(await asyncio.wait_for(self.ws.recv(), limit))

    async def execute(self, code: str, limit: float = 30.0) -> float:
        """Run ``code``; seconds from send until execute_reply AND iopub idle for it."""
        deadline = time.perf_counter() + limit
        start = time.perf_counter()
        msg_id = await self.send("execute_request", kernel_content(code))
        got_reply = got_idle = False
        while not (got_reply and got_idle):
            msg = await self.recv(max(deadline - time.perf_counter(), 0.001))
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            msg_type = msg["header"]["msg_type"]
            if msg_type == "execute_reply":
                got_reply = True
            elif msg_type == "status" and msg["content"].get("execution_state") == "idle":
                got_idle = True
        return time.perf_counter() - start

    async def kernel_info(self, limit: float = 60.0, resend: float = 1.0) -> None:
        """Send kernel_info_request every ``resend`` s until one is answered, for ``limit`` s."""
        deadline = time.perf_counter() + limit
        sent: set[str] = set()
        while time.perf_counter() < deadline:
            sent.add(await self.send("kernel_info_request", {}))
            until = min(time.perf_counter() + resend, deadline)
            while (left := until - time.perf_counter()) > 0:
                try:
                    msg = await self.recv(left)
                except TimeoutError:
                    break
                if (
                    msg["header"]["msg_type"] == "kernel_info_reply"
                    and msg.get("parent_header", {}).get("msg_id") in sent
                ):
                    return
        raise TimeoutError(f"no kernel_info_reply within {limit} s")

    async def close(self) -> None:
        await self.ws.close()


# --------------------------------------------------------------------------- stats and tables


@dataclass(frozen=True)
class Summary:
    """Latency statistics of one sample set, in milliseconds."""

    n: int
    p50: float
    p99: float
    mean: float
    minimum: float


def summarize(seconds: Sequence[float]) -> Summary:
    """p50/p99/mean/min in ms of ``seconds`` (inclusive quantiles; needs >= 2 samples)."""
    ms = [s * 1000.0 for s in seconds]
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return Summary(len(ms), cuts[49], cuts[98], statistics.fmean(ms), min(ms))


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` formatted as ``1.23x``, or ``-`` when either is missing."""
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table with padded columns (readable raw in a terminal too)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def environment_line() -> str:
    """The versions of the packages the numbers depend on, as one line."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("jupyter_server", "jupyter_client", "ipykernel", "adrastea", "uvicorn"):
        try:
            parts.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}=absent")
    return ", ".join(parts)
