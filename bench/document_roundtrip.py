"""Round trip of a trivial cell through the server-owned document vs direct jupyter_client.

The cell is ``n += 1; print(n)`` (after a setup cell ``n = 0``), so every run
prints a new number and its output cannot be mistaken for an earlier one.

- ``adrastea``: ``POST /api/notebooks/{path}/execute`` (one keep-alive HTTP
  connection), until a y-websocket client connected to the document sees the
  cell's new output **and** the cell back in ``execution_state: idle``;
- ``direct``: jupyter_client on ZMQ: ``execute_request`` until the stream
  output, the ``execute_reply`` and the iopub ``idle`` status have arrived.

After ``--warmup`` round trips each, ``--n`` measured ones run in blocks of
``--block``, the two targets taking turns, so that noise from other work on
the machine hits both alike.

    python bench/document_roundtrip.py
    python bench/document_roundtrip.py --n 40 --warmup 5     # quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import queue
import sys
import time
from typing import Any, Protocol

import _harness as h

CHOICES = ("direct", "adrastea")
GOAL = 1.5  # Adrastea's p50 may be at most this multiple of direct's
LIMIT = 30.0  # seconds one round trip may take before the target counts as failed
SETUP, CELL = "n = 0", "n += 1\nprint(n)"
NOTEBOOK = "roundtrip.ipynb"


class Runner(Protocol):
    name: str
    extensions: str
    pid: int | None  # the server process, whose CPU time is measured

    async def setup(self) -> None: ...
    async def one(self) -> float: ...
    async def teardown(self) -> None: ...


class DirectRunner:
    """jupyter_client straight to the kernel: the floor."""

    name = "direct"
    extensions = "(zmq)"
    pid: int | None = None

    def __init__(self) -> None:
        self._km: Any = None
        self._kc: Any = None
        self._count = 0

    async def setup(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self._km = AsyncKernelManager(kernel_name=h.KERNEL_NAME)
        await self._km.start_kernel()
        self._kc = self._km.client()
        self._kc.start_channels()
        await self._kc.wait_for_ready(timeout=60)
        await self._run(SETUP, None)

    async def _run(self, code: str, expect: str | None) -> float:
        kc = self._kc
        start = time.perf_counter()
        deadline = start + LIMIT
        msg = kc.session.msg("execute_request", h.kernel_content(code))
        kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        printed = ""  # print() may reach iopub in more than one stream message
        try:
            while True:
                got = await kc.get_iopub_msg(timeout=max(deadline - time.perf_counter(), 0.001))
                if got["parent_header"].get("msg_id") != msg_id:
                    continue
                if got["msg_type"] == "stream":
                    printed += got["content"].get("text", "")
                elif got["msg_type"] == "status" and got["content"]["execution_state"] == "idle":
                    break
            while True:
                reply = await kc.get_shell_msg(timeout=max(deadline - time.perf_counter(), 0.001))
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        except queue.Empty:
            raise TimeoutError(f"no reply within {LIMIT} s") from None
        if expect is not None and printed != expect:
            raise RuntimeError(f"the cell printed {printed!r}, not {expect!r}")
        return time.perf_counter() - start

    async def one(self) -> float:
        self._count += 1
        return await self._run(CELL, f"{self._count}\n")

    async def teardown(self) -> None:
        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None and self._km.has_kernel:
            await self._km.shutdown_kernel()


class DocumentRunner:
    """Adrastea: POST execute, watch the output arrive in a connected document client."""

    name = "adrastea"

    def __init__(self, target: h.Target, compression: str | None) -> None:
        assert target.root is not None
        self.target = target
        self.pid = target.pid
        self.compression = compression
        self.extensions = "?"
        self._stack = contextlib.AsyncExitStack()
        self._http: Any = None
        self._doc: h.DocumentConnection | None = None
        self._setup_id = self._cell_id = ""
        self._count = 0

    async def setup(self) -> None:
        import httpx

        assert self.target.root is not None
        self._setup_id, self._cell_id = h.write_code_notebook(
            self.target.root / NOTEBOOK, [SETUP, CELL]
        )
        self._http = await self._stack.enter_async_context(
            httpx.AsyncClient(base_url=self.target.url, headers=self.target.headers, timeout=LIMIT)
        )
        self._doc = await self._stack.enter_async_context(
            h.open_document(self.target, NOTEBOOK, self.compression)
        )
        self.extensions = self._doc.socket.extensions
        await self._execute(self._setup_id, self._cell_shows(self._setup_id, None))

    def _cell_shows(self, cell_id: str, text: str | None) -> Any:
        """A predicate: ``cell_id`` is idle with an execution count and (if given) ``text``."""

        def check(notebook: Any) -> bool:
            for ycell in notebook.ycells:
                if ycell.get("id") != cell_id:
                    continue
                if ycell.get("execution_state") != "idle" or ycell.get("execution_count") is None:
                    return False
                if text is None:
                    return True
                outputs = ycell.get("outputs")
                return outputs is not None and any(
                    str(output.get("text")) == text for output in outputs
                )
            return False

        return check

    async def _execute(self, cell_id: str, done: Any) -> float:
        assert self._doc is not None
        start = time.perf_counter()
        response = await self._http.post(
            f"/api/notebooks/{NOTEBOOK}/execute", json={"cells": [cell_id]}
        )
        if response.status_code != 202:
            raise RuntimeError(f"execute answered HTTP {response.status_code}: {response.text}")
        await self._doc.client.wait_for(done, within=LIMIT)
        return time.perf_counter() - start

    async def one(self) -> float:
        self._count += 1
        return await self._execute(
            self._cell_id, self._cell_shows(self._cell_id, f"{self._count}\n")
        )

    async def teardown(self) -> None:
        await self._stack.aclose()


async def measure(
    runners: list[Runner], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, str], dict[str, float]]:
    """Set up, warm up and measure every runner, in blocks taking turns.

    Returns samples, errors and the server's CPU seconds over the measured
    round trips, each by target name.  Everything runs in this one task (the
    document connection is an anyio task group entered in setup).
    """
    samples: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    cpu: dict[str, float] = {}
    live: list[Runner] = []
    try:
        for runner in runners:
            h.log(f"{runner.name}: starting")
            try:
                async with asyncio.timeout(120):
                    await runner.setup()
                for _ in range(args.warmup):
                    await runner.one()
            except Exception as exc:
                errors[runner.name] = f"{type(exc).__name__}: {exc}"
                h.log(f"{runner.name}: FAILED: {errors[runner.name]}")
                continue
            live.append(runner)
            samples[runner.name] = []
        done = round_no = 0
        while done < args.n and live:
            block = min(args.block, args.n - done)
            order = live[round_no % len(live) :] + live[: round_no % len(live)]
            for runner in order:
                cpu_before = h.cpu_seconds(runner.pid)
                try:
                    for _ in range(block):
                        samples[runner.name].append(await runner.one())
                    cpu_after = h.cpu_seconds(runner.pid)
                    if cpu_before is not None and cpu_after is not None:
                        cpu[runner.name] = cpu.get(runner.name, 0.0) + cpu_after - cpu_before
                except Exception as exc:
                    errors[runner.name] = f"{type(exc).__name__}: {exc}"
                    h.log(f"{runner.name}: FAILED: {errors[runner.name]}")
                    live.remove(runner)
            done += block
            round_no += 1
            h.log(f"{done}/{args.n} round trips per target")
    finally:
        for runner in reversed(runners):  # LIFO: task groups nest
            try:
                async with asyncio.timeout(30):
                    await runner.teardown()
            except Exception as exc:
                h.log(f"{runner.name}: teardown failed: {type(exc).__name__}: {exc}")
    return samples, errors, cpu


def report(
    names: list[str],
    samples: dict[str, list[float]],
    errors: dict[str, str],
    cpu: dict[str, float],
    extensions: dict[str, str],
    args: argparse.Namespace,
) -> str:
    """The markdown section: table with ratios to direct, verdict."""
    stats = {name: h.summarize(s) for name, s in samples.items() if len(s) >= 2}
    base = stats.get("direct")
    rows = []
    for name in names:
        if name not in stats:
            reason = errors.get(name, "no samples")
            rows.append([name, "0", *["-"] * 7, f"FAILED: {reason[:80]}"])
            continue
        s = stats[name]
        cpu_ms = cpu[name] * 1e3 / s.n if name in cpu else None
        rows.append(h.latency_row(name, s, base, cpu_ms, extensions.get(name, "?")))
    headers = [
        "target", "n", "p50 ms", "p99 ms", "mean ms", "min ms", "p50/direct", "p99/direct",
        "server CPU ms/rt", "ws ext",
    ]  # fmt: skip
    lines = [
        "### document_roundtrip",
        "",
        f"`{CELL.replace(chr(10), '; ')}` round trip: `adrastea` from `POST"
        " /api/notebooks/{path}/execute` until a connected y-websocket client sees the new"
        " output and the cell idle again; `direct` from execute_request until the output, the"
        f" execute_reply and iopub idle. {args.warmup} warm-up, then {args.n} sequential per"
        f" target in blocks of {args.block}, rotating. Server CPU: the server process's CPU time"
        " (all threads) per round trip, kernel excluded.",
        "",
        h.format_table(headers, rows),
        "",
    ]
    lines += h.p50_verdicts(stats, base, GOAL, ("adrastea",))
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_local_target_args(parser, CHOICES)
    parser.add_argument("--n", type=int, default=100, help="measured round trips per target")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured round trips first")
    parser.add_argument("--block", type=int, default=25, help="round trips per turn")
    h.add_ws_compression_arg(parser)
    args = parser.parse_args()
    if not 2 <= args.n <= 10_000 or not 0 <= args.warmup <= 1000 or args.block < 1:
        h.die("need 2 <= --n <= 10000, 0 <= --warmup <= 1000, --block >= 1")
    names = h.selected_targets(args, CHOICES, baseline="direct")
    compression = h.ws_compression(args)
    with h.open_server_targets(names, args) as targets:
        runners: list[Runner] = [
            DirectRunner() if name == "direct" else DocumentRunner(targets[name], compression)
            for name in names
        ]
        samples, errors, cpu = asyncio.run(measure(runners, args))
    extensions = {r.name: r.extensions for r in runners}
    print(report(names, samples, errors, cpu, extensions, args))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
