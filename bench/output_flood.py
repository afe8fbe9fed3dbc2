"""Output floods: direct jupyter_client vs a kernel WebSocket client vs the server-owned notebook.

Three cells that print a lot, each run ``--rounds`` times per target:

- ``lines``: ``for i in range(200000): print(i)`` (1.3 MB in 200,000 short lines);
- ``one``: 50 MB in one ``print``;
- ``chunks``: 50 MB in fifty 1 MB ``print`` calls.

Targets:

- ``direct``: jupyter_client on ZMQ; wall time from ``execute_request`` until
  ``execute_reply`` and iopub ``idle``, collecting every message on the way;
- ``jupyter_server``: stock Jupyter Server, a client on
  ``/api/kernels/{id}/channels`` (legacy JSON protocol) doing the same.  Its
  default iopub rate limit (1 MB/s over 3 s windows) drops stream messages, so
  the table shows how much of the text reached the client;
- ``adrastea``: the server owns the notebook.  ``POST
  /api/notebooks/{path}/execute`` runs the cell while one y-websocket client
  is connected to the document; the clock stops when ``GET
  /api/notebooks/{path}/status`` (polled every ``--poll`` s over one keep-alive
  connection) shows the cell done.  Then ``POST /api/notebooks/{path}/save`` and
  the saved ``.ipynb`` is compared with the text the cell printed.

Bytes are counted at the client: the payload of every WebSocket message (after
permessage-deflate, as the application sees it) and the bytes on the TCP
socket.  Server memory is the server process's peak RSS during the run minus
its RSS before (VmHWM - VmRSS from ``/proc/PID/status``, the peak reset first
through ``/proc/PID/clear_refs``); kernels are separate processes, not counted.

    python bench/output_flood.py                  # direct, jupyter_server, adrastea
    python bench/output_flood.py --mb 10 --lines 50000 --rounds 1   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import _harness as h

CHOICES = ("direct", *h.SERVER_TARGETS)
WALL_GOAL = 1.2  # Adrastea's median wall time may be at most this multiple of direct's
RSS_GOAL = 100e6  # bytes of server peak RSS growth, at most
# Payload bytes to the document client: at most this many display caps.  The
# document holds at most one cap of a stream, and a client following a flood gets
# each byte at most once: the stream until it reaches the cap, then the sliding
# tail (3/8 of a cap) under a byte budget (64 KB/s once the burst is spent).  So
# an output a little over the cap costs about its own size, and no flood of these
# sizes costs more than cap + tail (+ framing and notes).
BYTES_GOAL = 1.5
LIMIT = 300.0  # seconds one run may take before the target counts as failed


@dataclass(frozen=True)
class Case:
    """One flooding cell and the exact text it prints on stdout."""

    key: str
    title: str
    code: str
    parts: tuple[tuple[str, int], ...]  # (text, repeat): expected = join of text * repeat

    def expected(self) -> str:
        return "".join(text * repeat for text, repeat in self.parts)

    @property
    def size(self) -> int:
        return sum(len(text) * repeat for text, repeat in self.parts)


def make_cases(lines: int, megabytes: int) -> list[Case]:
    """The three cases, scaled by ``--lines`` and ``--mb``."""
    numbers = "".join(f"{i}\n" for i in range(lines))
    chunk = 2**20
    return [
        Case(
            "lines",
            f"{lines:,} short lines",
            f"for i in range({lines}):\n    print(i)",
            ((numbers, 1),),
        ),
        Case(
            "one",
            f"{megabytes} MiB in one print",
            f'print("x" * ({megabytes} * 2**20 - 1))',
            (("x" * (megabytes * chunk - 1) + "\n", 1),),
        ),
        Case(
            "chunks",
            f"{megabytes} MiB in 1 MiB prints",
            f'c = "y" * (2**20 - 1)\nfor _ in range({megabytes}):\n    print(c)',
            (("y" * (chunk - 1) + "\n", megabytes),),
        ),
    ]


@dataclass
class Sample:
    """One run of one case on one target."""

    wall_s: float
    stdout_chars: int | None = None  # stdout text the client received (direct, jupyter_server)
    payload_bytes: int | None = None  # WebSocket message bytes the client received
    wire_bytes: int | None = None  # TCP bytes the client received
    rss_kib: int | None = None  # server peak RSS growth during the run
    rss_save_kib: int | None = None  # adrastea: the same, through the save too
    save_s: float | None = None
    kept: float | None = None  # adrastea: fraction of the text in the saved file (1.0: exact)
    notes: list[str] = field(default_factory=list)


class Runner(Protocol):
    name: str
    extensions: str

    async def setup(self, cases: list[Case]) -> None: ...
    async def run(self, case: Case) -> Sample: ...
    async def teardown(self) -> None: ...


def _left(deadline: float) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError(f"no end of output within {LIMIT} s")
    return left


class DirectRunner:
    """jupyter_client straight to the kernel: the floor."""

    name = "direct"
    extensions = "(zmq)"

    def __init__(self) -> None:
        self._km: Any = None
        self._kc: Any = None

    async def setup(self, cases: list[Case]) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self._km = AsyncKernelManager(kernel_name=h.KERNEL_NAME)
        await self._km.start_kernel()
        self._kc = self._km.client()
        self._kc.start_channels()
        await self._kc.wait_for_ready(timeout=60)
        await self._execute("pass")

    async def _execute(self, code: str) -> int:
        """Run ``code``; returns the stdout characters received."""
        kc = self._kc
        deadline = time.perf_counter() + LIMIT
        msg = kc.session.msg("execute_request", h.kernel_content(code))
        kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        chars = 0
        while True:
            got = await kc.get_iopub_msg(timeout=_left(deadline))
            if got["parent_header"].get("msg_id") != msg_id:
                continue
            if got["msg_type"] == "stream" and got["content"].get("name") == "stdout":
                chars += len(got["content"].get("text", ""))
            elif got["msg_type"] == "status" and got["content"]["execution_state"] == "idle":
                break
        while True:
            reply = await kc.get_shell_msg(timeout=_left(deadline))
            if reply["parent_header"].get("msg_id") == msg_id:
                return chars

    async def run(self, case: Case) -> Sample:
        start = time.perf_counter()
        chars = await self._execute(case.code)
        return Sample(time.perf_counter() - start, stdout_chars=chars)

    async def teardown(self) -> None:
        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None and self._km.has_kernel:
            await self._km.shutdown_kernel()


class KernelSocketRunner:
    """A client on a server's kernel WebSocket (stock jupyter_server)."""

    def __init__(self, target: h.Target, compression: str | None) -> None:
        self.name = target.name
        self.target = target
        self.compression = compression
        self.extensions = "?"
        self._kernel_id: str | None = None
        self._ws: h.KernelWebSocket | None = None
        self._counter: h.CountingSocket | None = None

    async def setup(self, cases: list[Case]) -> None:
        status, body = await asyncio.to_thread(
            h.http_request, self.target, "POST", "/api/kernels", {"name": h.KERNEL_NAME}
        )
        if status != 201 or not isinstance(body, dict) or "id" not in body:
            raise RuntimeError(f"POST /api/kernels answered HTTP {status}: {body!r:.200}")
        self._kernel_id = body["id"]
        self._ws = await h.KernelWebSocket.open(
            self.target, body["id"], self.compression, count_bytes=True
        )
        self._counter = h.CountingSocket(self._ws.ws)
        self.extensions = self._counter.extensions
        await self._ws.kernel_info()
        await self._ws.execute("pass")

    async def run(self, case: Case) -> Sample:
        ws, counter = self._ws, self._counter
        assert ws is not None and counter is not None
        memory = h.PeakMemory(self.target.pid).start()
        payload0, wire0 = counter.payload_bytes, counter.wire_bytes
        deadline = time.perf_counter() + LIMIT
        start = time.perf_counter()
        msg_id = await ws.send("execute_request", h.kernel_content(case.code))
        chars = 0
        got_reply = got_idle = False
        while not (got_reply and got_idle):
            frame = await asyncio.wait_for(ws.ws.recv(), _left(deadline))
            counter.count(frame)
            msg = h.decode_legacy(frame)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                chars += len(content.get("text", ""))
            elif kind == "execute_reply":
                got_reply = True
            elif kind == "status" and content.get("execution_state") == "idle":
                got_idle = True
        wall = time.perf_counter() - start
        sample = Sample(
            wall,
            stdout_chars=chars,
            payload_bytes=counter.payload_bytes - payload0,
            wire_bytes=counter.wire_bytes - wire0,
            rss_kib=memory.growth_kib(),
        )
        if not memory.exact:
            sample.notes.append("peak not reset")
        return sample

    async def teardown(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._kernel_id is not None:
            await asyncio.to_thread(
                h.http_request, self.target, "DELETE", f"/api/kernels/{self._kernel_id}"
            )


class NotebookRunner:
    """Adrastea: the server runs the notebook; one document client watches."""

    def __init__(self, target: h.Target, args: argparse.Namespace) -> None:
        assert target.root is not None, "the notebooks are written into the server's root"
        self.name = target.name
        self.target = target
        self.root = target.root
        self.args = args
        self.extensions = "?"
        self._stack = contextlib.AsyncExitStack()
        self._http: Any = None
        self._docs: dict[str, h.DocumentConnection] = {}
        self._cells: dict[str, str] = {}  # case key -> id of its flooding cell

    @staticmethod
    def notebook(case: Case) -> str:
        return f"flood_{case.key}.ipynb"

    async def setup(self, cases: list[Case]) -> None:
        import httpx

        compression = h.ws_compression(self.args)
        self._http = await self._stack.enter_async_context(
            httpx.AsyncClient(base_url=self.target.url, headers=self.target.headers, timeout=60)
        )
        # One notebook (so one kernel) per case: a save then writes only that case's output.
        for case in cases:
            path = self.notebook(case)
            warmup, flood = h.write_code_notebook(self.root / path, ["pass", case.code])
            self._cells[case.key] = flood
            doc = await self._stack.enter_async_context(
                h.open_document(self.target, path, compression)
            )
            self._docs[case.key] = doc
            self.extensions = doc.socket.extensions
            await self._execute(path, warmup)  # starts the kernel, unmeasured

    async def _status(self, path: str) -> dict[str, Any]:
        response = await self._http.get(f"/api/notebooks/{path}/status")
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    async def _execute(self, path: str, cell_id: str) -> dict[str, Any]:
        """Queue ``cell_id`` and poll the status until it ran; returns the last status."""
        deadline = time.perf_counter() + LIMIT
        executed = (await self._status(path))["executed"]
        response = await self._http.post(
            f"/api/notebooks/{path}/execute", json={"cells": [cell_id]}
        )
        if response.status_code != 202 or cell_id not in response.json().get("queued", []):
            raise RuntimeError(f"execute answered HTTP {response.status_code}: {response.text}")
        while True:
            await asyncio.sleep(min(self.args.poll, _left(deadline)))
            status = await self._status(path)
            if status["executed"] > executed and status["running"] is None and not status["queue"]:
                return status

    async def run(self, case: Case) -> Sample:
        path, cell_id, doc = self.notebook(case), self._cells[case.key], self._docs[case.key]
        payload0, wire0 = doc.socket.payload_bytes, doc.socket.wire_bytes
        memory = h.PeakMemory(self.target.pid).start()
        start = time.perf_counter()
        status = await self._execute(path, cell_id)
        wall = time.perf_counter() - start
        rss = memory.growth_kib()
        sample = Sample(wall, rss_kib=rss)
        if not memory.exact:
            sample.notes.append("peak not reset")
        error = status.get("last_error")
        if error and error.get("cell_id") == cell_id:
            sample.notes.append(f"cell failed: {error.get('ename')}")

        # Let the client's replica catch up (unmeasured), then count what it got.
        def finished(notebook: Any) -> bool:
            for ycell in notebook.ycells:
                if ycell.get("id") == cell_id:
                    return bool(ycell.get("execution_state") == "idle")
            return False

        await doc.client.wait_for(finished, within=LIMIT)
        await doc.socket.quiet(0.3, limit=10.0)
        sample.payload_bytes = doc.socket.payload_bytes - payload0
        sample.wire_bytes = doc.socket.wire_bytes - wire0

        start = time.perf_counter()
        response = await self._http.post(f"/api/notebooks/{path}/save", timeout=LIMIT)
        sample.save_s = time.perf_counter() - start
        sample.rss_save_kib = memory.growth_kib()
        if response.status_code != 200:
            sample.notes.append(f"save answered HTTP {response.status_code}")
            sample.kept = 0.0
            return sample
        sample.kept = await asyncio.to_thread(saved_fraction, self.root / path, cell_id, case)
        return sample

    async def teardown(self) -> None:
        await self._stack.aclose()


def saved_fraction(path: Path, cell_id: str, case: Case) -> float:
    """1.0 if the saved cell's stdout is exactly the expected text, else the share that matches.

    The share is the longest common prefix over the expected length, so text
    that is dropped or garbled anywhere counts as lost from there on.
    """
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if c.get("id") == cell_id)
    text = "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
    expected = case.expected()
    if text == expected:
        return 1.0
    common = 0
    step = 1 << 16
    while common < min(len(text), len(expected)):
        if text[common : common + step] == expected[common : common + step]:
            common += step
        elif step > 1:
            step //= 2
        else:
            break
    return min(common, len(expected)) / len(expected)


async def measure(
    runners: list[Runner], cases: list[Case], args: argparse.Namespace
) -> tuple[dict[tuple[str, str], list[Sample]], dict[str, str]]:
    """Set up every runner, then run each case ``args.rounds`` times, targets taking turns."""
    samples: dict[tuple[str, str], list[Sample]] = {}
    errors: dict[str, str] = {}
    live: list[Runner] = []
    try:
        for runner in runners:
            h.log(f"{runner.name}: setting up")
            try:
                # asyncio.timeout, not wait_for: setup, runs and teardown must share one task
                # (the document connections are anyio task groups entered in setup).
                async with asyncio.timeout(LIMIT):
                    await runner.setup(cases)
            except Exception as exc:
                errors[runner.name] = f"{type(exc).__name__}: {exc}"
                h.log(f"{runner.name}: FAILED: {errors[runner.name]}")
                continue
            live.append(runner)
        turn = 0
        for round_no in range(args.rounds):
            for case in cases:
                order = live[turn % len(live) :] + live[: turn % len(live)] if live else []
                turn += 1
                for runner in order:
                    if runner.name in errors:
                        continue
                    try:
                        async with asyncio.timeout(LIMIT * 2):
                            sample = await runner.run(case)
                    except Exception as exc:
                        errors[runner.name] = f"{case.key}: {type(exc).__name__}: {exc}"
                        h.log(f"{runner.name}: FAILED: {errors[runner.name]}")
                        continue
                    samples.setdefault((runner.name, case.key), []).append(sample)
                    h.log(
                        f"round {round_no + 1} {case.key} {runner.name}: {sample.wall_s:.2f} s"
                        f"{describe(sample, case)}"
                    )
    finally:
        for runner in reversed(runners):  # LIFO: task groups nest
            try:
                async with asyncio.timeout(60):
                    await runner.teardown()
            except Exception as exc:
                h.log(f"{runner.name}: teardown failed: {type(exc).__name__}: {exc}")
    return samples, errors


def describe(sample: Sample, case: Case) -> str:
    """A short progress line for one sample."""
    parts = []
    if sample.stdout_chars is not None:
        parts.append(f"{100 * sample.stdout_chars / case.size:.1f}% received")
    if sample.kept is not None:
        parts.append(f"{100 * sample.kept:.1f}% kept")
    if sample.payload_bytes is not None:
        parts.append(f"{h.mb(sample.payload_bytes)} MB to client")
    if sample.rss_kib is not None:
        parts.append(f"RSS +{h.mb(sample.rss_kib * 1024)} MB")
    parts += sample.notes
    return ", " + ", ".join(parts) if parts else ""


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _max(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def report(
    runners: list[Runner],
    cases: list[Case],
    samples: dict[tuple[str, str], list[Sample]],
    errors: dict[str, str],
    args: argparse.Namespace,
    cap: int,
) -> str:
    """The markdown section: one table for all cases, then the verdicts."""
    extensions = {r.name: r.extensions for r in runners}
    headers = [
        "case", "target", "n", "wall s (median)", "wall/direct", "to client MB (payload/wire)",
        "stdout received", "kept in .ipynb", "server RSS +MB (max)", "incl. save", "save s",
        "ws ext", "note",
    ]  # fmt: skip
    rows: list[list[str]] = []
    verdicts: list[str] = []
    for case in cases:
        base = samples.get(("direct", case.key))
        base_wall = _median([s.wall_s for s in base]) if base else None
        for runner in runners:
            got = samples.get((runner.name, case.key))
            if not got:
                reason = errors.get(runner.name, "no samples")
                rows.append([case.key, runner.name, "0", *["-"] * 9, f"FAILED: {reason[:80]}"])
                continue
            wall = _median([s.wall_s for s in got])
            received = _median(
                [None if s.stdout_chars is None else s.stdout_chars / case.size for s in got]
            )
            kept = [s.kept for s in got if s.kept is not None]
            payload = _median([s.payload_bytes for s in got])
            wire = _median([s.wire_bytes for s in got])
            rss = _max([s.rss_kib for s in got])
            rss_save = _max([s.rss_save_kib for s in got])
            save = _median([s.save_s for s in got])
            notes = sorted({n for s in got for n in s.notes})
            rows.append(
                [
                    case.key,
                    runner.name,
                    str(len(got)),
                    f"{wall:.2f}" if wall is not None else "-",
                    h.ratio(wall, base_wall),
                    "-" if payload is None else f"{h.mb(payload, 2)} / {h.mb(wire, 2)}",
                    "-" if received is None else f"{100 * received:.1f}%",
                    "-" if not kept else f"{100 * min(kept):.1f}% (min)",
                    h.mb(None if rss is None else rss * 1024),
                    h.mb(None if rss_save is None else rss_save * 1024),
                    "-" if save is None else f"{save:.2f}",
                    extensions.get(runner.name, "?"),
                    "; ".join(notes),
                ]
            )
            if runner.name == "adrastea":
                verdicts.append(verdict(case, wall, base_wall, kept, rss, payload, cap))
    lines = [
        "### output_flood",
        "",
        f"Cases: {'; '.join(f'`{c.key}` = {c.title} ({c.size:,} bytes of stdout)' for c in cases)}."
        f" {args.rounds} round(s), targets taking turns (rotating order) per case. Wall time:"
        " `direct` and `jupyter_server` from execute_request to execute_reply + iopub idle,"
        " collecting every message; `adrastea` from `POST /api/notebooks/{path}/execute` until"
        f" the status shows the cell done (polled every {args.poll} s). To client: WebSocket"
        " payload (as the application sees it) / TCP bytes, median; Adrastea's document client"
        f" counted until its replica shows the cell idle. Display cap: {cap:,} bytes. Server RSS:"
        " peak growth of the server process over the run (kernel excluded); `incl. save` also"
        " covers `POST .../save`. Kept: the saved .ipynb's stdout against the exact expected"
        " text (worst round).",
        "",
        h.format_table(headers, rows),
        "",
        *verdicts,
    ]
    return "\n".join(lines).rstrip() + "\n"


def verdict(
    case: Case,
    wall: float | None,
    base_wall: float | None,
    kept: list[float],
    rss_kib: int | None,
    payload: float | None,
    cap: int,
) -> str:
    """One line: each of Adrastea's four goals for ``case``, met or MISSED."""
    checks = []
    worst = min(kept) if kept else 0.0
    checks.append(f"kept {100 * worst:.1f}% (100%): {'met' if worst == 1.0 else 'MISSED'}")
    if wall is not None and base_wall:
        r = wall / base_wall
        checks.append(
            f"wall {r:.2f}x direct (<= {WALL_GOAL}x): {'met' if r <= WALL_GOAL else 'MISSED'}"
        )
    if rss_kib is not None:
        grown = rss_kib * 1024
        checks.append(
            f"RSS +{h.mb(grown)} MB (<= {h.mb(RSS_GOAL, 0)} MB):"
            f" {'met' if grown <= RSS_GOAL else 'MISSED'}"
        )
    if payload is not None:
        r = payload / cap
        checks.append(
            f"{h.mb(payload)} MB to the client = {r:.2f} caps (<= {BYTES_GOAL}):"
            f" {'met' if r <= BYTES_GOAL else 'MISSED'}"
        )
    return f"- adrastea `{case.key}`: " + "; ".join(checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_local_target_args(parser, CHOICES)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case per target")
    parser.add_argument("--lines", type=int, default=200_000, help="lines of the `lines` case")
    parser.add_argument("--mb", type=int, default=50, help="MiB of the `one` and `chunks` cases")
    parser.add_argument("--poll", type=float, default=0.02, help="Adrastea status poll, s")
    h.add_ws_compression_arg(parser)
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20 or not 1 <= args.lines <= 10_000_000:
        h.die("need 1 <= --rounds <= 20 and 1 <= --lines <= 10000000")
    if not 1 <= args.mb <= 500 or not 0.001 <= args.poll <= 1:
        h.die("need 1 <= --mb <= 500 and 0.001 <= --poll <= 1")
    names = h.selected_targets(args, CHOICES, baseline="direct")
    cases = make_cases(args.lines, args.mb)
    from adrastea.config import DocumentSettings

    cap = DocumentSettings().output_cap_bytes
    compression = h.ws_compression(args)
    with h.open_server_targets(names, args) as targets:
        runners: list[Runner] = []
        for name in names:
            if name == "direct":
                runners.append(DirectRunner())
            elif name == "jupyter_server":
                runners.append(KernelSocketRunner(targets[name], compression))
            else:
                runners.append(NotebookRunner(targets[name], args))
        samples, errors = asyncio.run(measure(runners, cases, args))
    print(report(runners, cases, samples, errors, args, cap))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
