"""Execute round trip of a trivial cell: direct jupyter_client vs servers over the kernel WebSocket.

One round trip = send ``execute_request`` (code ``pass``) on shell, then wait
for the ``execute_reply`` AND the iopub ``status: idle`` whose parent is that
request.  Servers are reached over ``/api/kernels/{id}/channels`` with the
legacy JSON protocol (no subprotocol), as JupyterLab <4 and most scripts do;
``direct`` is jupyter_client's AsyncKernelClient on ZMQ with the same message.

Each target gets its own kernel.  After ``--warmup`` round trips each, the
``--n`` measured ones run in blocks of ``--block``, rotating between targets,
so that noise from other work on the machine hits every target alike.

    python bench/kernel_roundtrip.py                      # direct, jupyter_server, adrastea
    python bench/kernel_roundtrip.py --url http://127.0.0.1:8888 --token T
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sys
import time
from typing import Any, Protocol

import _harness as h

CHOICES = ("direct", *h.SERVER_TARGETS)
GOAL = 1.15  # Adrastea's p50 may be at most this multiple of direct's
LIMIT = 30.0  # seconds one round trip may take before the target counts as failed


class Runner(Protocol):
    name: str
    extensions: str
    pid: int | None  # the server process, whose CPU time is measured

    async def setup(self) -> None: ...
    async def one(self, code: str) -> float: ...
    async def teardown(self) -> None: ...


class DirectRunner:
    """jupyter_client straight to the kernel over ZMQ: the floor."""

    name = "direct"
    extensions = "(zmq)"
    pid: int | None = None  # no server

    def __init__(self) -> None:
        self._km: Any = None
        self._kc: Any = None

    async def setup(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self._km = AsyncKernelManager(kernel_name=h.KERNEL_NAME)
        await self._km.start_kernel()
        self._kc = self._km.client()
        self._kc.start_channels()
        await self._kc.wait_for_ready(timeout=60)

    async def one(self, code: str) -> float:
        kc = self._kc
        start = time.perf_counter()
        deadline = start + LIMIT
        msg = kc.session.msg("execute_request", h.kernel_content(code))
        kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        try:
            while True:
                reply = await kc.get_shell_msg(timeout=max(deadline - time.perf_counter(), 0.001))
                if (
                    reply["parent_header"].get("msg_id") == msg_id
                    and reply["msg_type"] == "execute_reply"
                ):
                    break
            while True:
                status = await kc.get_iopub_msg(timeout=max(deadline - time.perf_counter(), 0.001))
                if (
                    status["parent_header"].get("msg_id") == msg_id
                    and status["msg_type"] == "status"
                    and status["content"]["execution_state"] == "idle"
                ):
                    break
        except queue.Empty:
            raise TimeoutError(f"no reply within {LIMIT} s") from None
        return time.perf_counter() - start

    async def teardown(self) -> None:
        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None and self._km.has_kernel:
            await self._km.shutdown_kernel()


class ServerRunner:
    """A server's kernel over its WebSocket: POST /api/kernels, then the channels socket."""

    def __init__(self, target: h.Target, compression: str | None) -> None:
        self.name = target.name
        self.target = target
        self.pid = target.pid
        self.compression = compression
        self.extensions = "?"
        self._kernel_id: str | None = None
        self._ws: h.KernelWebSocket | None = None

    async def setup(self) -> None:
        status, body = await asyncio.to_thread(
            h.http_request, self.target, "POST", "/api/kernels", {"name": h.KERNEL_NAME}
        )
        if status != 201 or not isinstance(body, dict) or "id" not in body:
            raise RuntimeError(f"POST /api/kernels answered HTTP {status}: {body!r:.200}")
        self._kernel_id = body["id"]
        self._ws = await h.KernelWebSocket.open(self.target, body["id"], self.compression)
        self.extensions = self._ws.extensions
        await self._ws.kernel_info()

    async def one(self, code: str) -> float:
        assert self._ws is not None
        return await self._ws.execute(code)

    async def teardown(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._kernel_id is not None:
            await asyncio.to_thread(
                h.http_request, self.target, "DELETE", f"/api/kernels/{self._kernel_id}"
            )


async def measure(
    runners: list[Runner], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, str], dict[str, float]]:
    """Set up, warm up and measure every runner.

    Returns samples, errors and the server's CPU seconds over the measured
    round trips, each by target name.
    """
    samples: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    cpu: dict[str, float] = {}
    live: list[Runner] = []
    try:
        for runner in runners:
            h.log(f"{runner.name}: starting kernel")
            try:
                await runner.setup()
                for _ in range(args.warmup):
                    await runner.one(args.code)
            except Exception as exc:
                errors[runner.name] = f"{type(exc).__name__}: {exc}"
                h.log(f"{runner.name}: FAILED: {errors[runner.name]}")
                await _quietly_teardown(runner)
                continue
            live.append(runner)
            samples[runner.name] = []
        done = 0
        round_no = 0
        while done < args.n and live:
            block = min(args.block, args.n - done)
            order = live[round_no % len(live) :] + live[: round_no % len(live)]
            for runner in order:
                cpu_before = h.cpu_seconds(runner.pid)
                try:
                    for _ in range(block):
                        samples[runner.name].append(await runner.one(args.code))
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
        for runner in runners:
            await _quietly_teardown(runner)
    return samples, errors, cpu


async def _quietly_teardown(runner: Runner) -> None:
    try:
        await asyncio.wait_for(runner.teardown(), 30)
    except Exception as exc:
        h.log(f"{runner.name}: teardown failed: {type(exc).__name__}: {exc}")


def report(
    names: list[str],
    samples: dict[str, list[float]],
    errors: dict[str, str],
    cpu: dict[str, float],
    runners: list[Runner],
    args: argparse.Namespace,
) -> str:
    """The markdown section: parameters, table with ratios to direct, verdicts."""
    extensions = {r.name: r.extensions for r in runners}
    stats = {name: h.summarize(s) for name, s in samples.items() if len(s) >= 2}
    base = stats.get("direct")
    rows = []
    for name in names:
        if name in stats:
            s = stats[name]
            cpu_ms = cpu[name] * 1e3 / s.n if name in cpu else None
            rows.append(h.latency_row(name, s, base, cpu_ms, extensions.get(name, "?")))
        else:
            reason = errors.get(name, "no samples")
            rows.append([name, "0", "-", "-", "-", "-", "-", "-", "-", f"FAILED: {reason[:80]}"])
    headers = [
        "target", "n", "p50 ms", "p99 ms", "mean ms", "min ms", "p50/direct", "p99/direct",
        "server CPU ms/rt",
    ]  # fmt: skip
    lines = [
        "### kernel_roundtrip",
        "",
        f"Execute `{args.code}` round trip (execute_reply + iopub idle), {args.warmup} warm-up"
        f" then {args.n} sequential per target in blocks of {args.block}, rotating;"
        f" WebSocket compression offered: {args.ws_compression}. Server CPU: the server"
        " process's CPU time (all threads) per round trip, kernel excluded.",
        "",
        h.format_table([*headers, "ws ext"], rows),
        "",
    ]
    lines += h.p50_verdicts(stats, base, GOAL, ("adrastea", "external"))
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_target_args(parser, CHOICES)
    parser.add_argument("--n", type=int, default=500, help="measured round trips per target")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured round trips first")
    parser.add_argument("--block", type=int, default=50, help="round trips per turn")
    parser.add_argument("--code", default="pass", help="the trivial cell")
    h.add_ws_compression_arg(parser)
    args = parser.parse_args()
    if not 2 <= args.n <= 100_000 or not 0 <= args.warmup <= 10_000 or args.block < 1:
        h.die("need 2 <= --n <= 100000, 0 <= --warmup <= 10000, --block >= 1")
    names = h.selected_targets(args, CHOICES, baseline="direct")
    compression = h.ws_compression(args)
    with h.open_server_targets(names, args) as targets:
        runners: list[Runner] = [
            DirectRunner() if name == "direct" else ServerRunner(targets[name], compression)
            for name in names
        ]
        samples, errors, cpu = asyncio.run(measure(runners, args))
    print(report(names, samples, errors, cpu, runners, args))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
