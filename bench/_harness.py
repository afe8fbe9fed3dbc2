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
import dataclasses
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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

if TYPE_CHECKING:
    from adrastea.testing import YClient

__all__ = [
    "SERVER_TARGETS",
    "CountingConnection",
    "CountingSocket",
    "DocumentConnection",
    "KernelWebSocket",
    "PeakMemory",
    "Summary",
    "Target",
    "add_local_target_args",
    "add_target_args",
    "adrastea_server",
    "cpu_seconds",
    "decode_legacy",
    "die",
    "environment_line",
    "format_table",
    "free_port",
    "http_request",
    "jupyter_server",
    "kernel_content",
    "log",
    "make_message",
    "mb",
    "memory_kib",
    "open_document",
    "open_server_targets",
    "populate_small_files",
    "ratio",
    "reset_peak_rss",
    "selected_targets",
    "summarize",
    "wait_for_status",
    "write_code_notebook",
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
    """A server to measure: base URL (``http://host:port``), token; pid and root if started here."""

    name: str
    url: str
    token: str
    pid: int | None = None
    root: Path | None = None  # the folder it serves, when started here

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


def add_local_target_args(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    """Add ``--targets`` only, for benchmarks that start every server themselves.

    They write notebooks into each server's root, which an already running
    server (``--url``) does not share, so ``--url`` is not offered.
    """
    parser.set_defaults(url=None, token="", pid=None)
    parser.add_argument(
        "--targets", help=f"comma-separated subset of {','.join(choices)} (default: all)"
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
                started = stack.enter_context(starter(root, secrets.token_hex(16)))
                targets[name] = dataclasses.replace(started, root=root)
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


def decode_legacy(frame: str | bytes) -> dict[str, Any]:
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
        cls,
        target: Target,
        kernel_id: str,
        compression: str | None,
        limit: float = 30.0,
        *,
        count_bytes: bool = False,
    ) -> KernelWebSocket:
        """Connect (within ``limit`` seconds) with the token header and no subprotocol.

        With ``count_bytes`` the connection is a :class:`CountingConnection`
        (``ws.wire_bytes`` counts what arrives on the TCP socket).
        """
        url = target.ws_url(f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
        ws = await connect(
            url,
            additional_headers=target.headers,
            compression=compression,
            max_size=None,
            open_timeout=limit,
            ping_interval=None,
            proxy=None,
            create_connection=CountingConnection if count_bytes else None,
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
        return decode_legacy(await asyncio.wait_for(self.ws.recv(), limit))

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


# --------------------------------------------------------------------------- byte counting


class CountingConnection(ClientConnection):
    """A websockets client connection that counts the bytes arriving on its TCP socket.

    ``wire_bytes`` is what the server sent: frame headers included, after
    permessage-deflate if that was negotiated.  Pass the class as
    ``create_connection`` to ``websockets.asyncio.client.connect``.
    """

    wire_bytes = 0

    def data_received(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        super().data_received(data)


class CountingSocket:
    """Wraps a websockets connection; counts the frames and payload bytes received.

    ``payload_bytes`` is the length of every message as the application sees
    it (decompressed; a text message counts its UTF-8 bytes).  It offers what
    ``adrastea.testing.YClient`` uses of a connection: ``async for`` and ``send``.
    """

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.payload_bytes = 0
        self.frames = 0
        self.last_frame = time.perf_counter()

    @property
    def wire_bytes(self) -> int:
        """Bytes received on the TCP socket (0 if ``ws`` is not a ``CountingConnection``)."""
        return self.ws.wire_bytes if isinstance(self.ws, CountingConnection) else 0

    @property
    def extensions(self) -> str:
        """The negotiated WebSocket extensions, e.g. ``permessage-deflate`` or ``none``."""
        return ",".join(ext.name for ext in self.ws.protocol.extensions) or "none"

    def count(self, message: str | bytes) -> None:
        """Count one received message."""
        if isinstance(message, str):
            self.payload_bytes += len(message) if message.isascii() else len(message.encode())
        else:
            self.payload_bytes += len(message)
        self.frames += 1
        self.last_frame = time.perf_counter()

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        async for message in self.ws:
            self.count(message)
            yield message

    async def send(self, message: str | bytes) -> None:
        await self.ws.send(message)

    async def quiet(self, for_s: float, limit: float) -> None:
        """Return once no frame arrived for ``for_s`` seconds (or after ``limit`` seconds)."""
        deadline = time.perf_counter() + limit
        while (now := time.perf_counter()) < deadline:
            left = self.last_frame + for_s - now
            if left <= 0:
                return
            await asyncio.sleep(min(left, deadline - now))


# --------------------------------------------------------------------------- live documents


@dataclass
class DocumentConnection:
    """A synced y-websocket replica of a server document, with byte counts.

    ``synced_s``: seconds from the start of the connect until the server's
    document was applied to the replica (SYNC_STEP2), i.e. until the client
    has the whole document.
    """

    client: YClient
    socket: CountingSocket
    synced_s: float


@contextlib.asynccontextmanager
async def open_document(
    target: Target, path: str, compression: str | None = "deflate", limit: float = 120.0
) -> AsyncIterator[DocumentConnection]:
    """Connect to ``/api/documents/{path}`` and sync, like ``adrastea.testing.connect_document``.

    The difference: the connection counts bytes (see :class:`CountingSocket`),
    offers ``compression`` as browsers do, and the sync may take ``limit``
    seconds (a 50 MB document takes longer than the 30 s the test helper allows).
    """
    import anyio
    from pycrdt import create_sync_message

    from adrastea.testing import YClient

    start = time.perf_counter()
    ws = await connect(
        target.ws_url(f"/api/documents/{path}"),
        additional_headers=target.headers,
        compression=compression,
        max_size=None,
        open_timeout=limit,
        ping_interval=None,
        proxy=None,
        create_connection=CountingConnection,
    )
    try:
        counting = CountingSocket(ws)
        client = YClient(counting)
        await ws.send(create_sync_message(client.doc))
        async with anyio.create_task_group() as tg:
            tg.start_soon(client._receive)
            with anyio.fail_after(limit):
                await client.synced.wait()
            yield DocumentConnection(client, counting, time.perf_counter() - start)
            tg.cancel_scope.cancel()
    finally:
        await ws.close()


def write_code_notebook(
    path: Path, sources: Sequence[str], *, parameters: str | None = None
) -> list[str]:
    """Write a python3 notebook of code cells; returns the cell ids.

    ``parameters`` becomes a first cell tagged ``parameters`` (papermill's convention).
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in sources)
    nbformat.write(nb, path)
    return [str(cell.id) for cell in nb.cells]


# --------------------------------------------------------------------------- memory


def memory_kib(pid: int | None) -> tuple[int, int] | None:
    """``(VmRSS, VmHWM)`` of process ``pid`` in KiB, or None (no pid, process gone).

    VmHWM is the peak resident set size since the process started or since
    :func:`reset_peak_rss`.  Linux only.
    """
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (KeyError, ValueError, IndexError):
        return None


def reset_peak_rss(pid: int | None) -> bool:
    """Set ``pid``'s VmHWM back to its current RSS (``5`` into ``/proc/PID/clear_refs``).

    Needs Linux >= 4.0 and the right to write there (our own child process).
    Returns False where that failed: the peak then covers the process's whole life.
    """
    if pid is None:
        return False
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PeakMemory:
    """Peak RSS growth of a process over a block: VmHWM at the end - VmRSS at the start.

    ``start()`` reads VmRSS and resets the peak; ``growth_kib()`` reads VmHWM.
    ``exact`` is False when the peak could not be reset (it may then be an
    older, higher peak, so the growth is an upper bound).
    """

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.before: int | None = None
        self.exact = False

    def start(self) -> PeakMemory:
        self.exact = reset_peak_rss(self.pid)
        now = memory_kib(self.pid)
        self.before = now[0] if now is not None else None
        return self

    def growth_kib(self) -> int | None:
        """Peak RSS since ``start()`` minus RSS at ``start()``, KiB (None if unknown)."""
        now = memory_kib(self.pid)
        if now is None or self.before is None:
            return None
        return max(now[1] - self.before, 0)

    def rss_kib(self) -> int | None:
        """The process's RSS now, KiB."""
        now = memory_kib(self.pid)
        return now[0] if now is not None else None


def mb(n_bytes: float | None, digits: int = 1) -> str:
    """Bytes as decimal megabytes (10**6), or ``-`` for None."""
    return "-" if n_bytes is None else f"{n_bytes / 1e6:,.{digits}f}"


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


def latency_row(
    name: str, s: Summary, base: Summary | None, cpu_ms: float | None, extensions: str
) -> list[str]:
    """A table row: target, n, p50/p99/mean/min ms, p50 and p99 vs ``base``, CPU ms, ws ext."""
    return [
        name,
        str(s.n),
        f"{s.p50:.2f}",
        f"{s.p99:.2f}",
        f"{s.mean:.2f}",
        f"{s.minimum:.2f}",
        ratio(s.p50, base.p50 if base else None),
        ratio(s.p99, base.p99 if base else None),
        f"{cpu_ms:.2f}" if cpu_ms is not None else "-",
        extensions,
    ]


def add_ws_compression_arg(parser: argparse.ArgumentParser) -> None:
    """``--ws-compression deflate|none``; read it back with :func:`ws_compression`."""
    parser.add_argument(
        "--ws-compression", choices=("deflate", "none"), default="deflate",
        help="offer permessage-deflate as browsers do (default), or not",
    )  # fmt: skip


def ws_compression(args: argparse.Namespace) -> str | None:
    """The compression to offer (None for none), from :func:`add_ws_compression_arg`."""
    return None if args.ws_compression == "none" else "deflate"


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


def p50_verdicts(
    stats: dict[str, Summary], base: Summary | None, goal: float, names: tuple[str, ...]
) -> list[str]:
    """One line per target in ``names``: its p50 as a ratio to ``base``, met or MISSED."""
    lines = []
    for name in names:
        if name in stats and base is not None:
            ratio = stats[name].p50 / base.p50
            verdict = "met" if ratio <= goal else "MISSED"
            lines.append(f"- {name}: p50 {ratio:.2f}x direct (goal <= {goal}x): {verdict}")
    return lines
