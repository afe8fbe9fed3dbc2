"""Kernel start to first kernel_info_reply: direct jupyter_client vs servers.

Through a server: ``POST /api/kernels``, connect ``/api/kernels/{id}/channels``
and send ``kernel_info_request`` (again every second) until one is answered.
``direct``: ``AsyncKernelManager.start_kernel``, then the client sends
``kernel_info_request`` (again every second) until one is answered -- what
``wait_for_ready`` does, minus its trailing 0.2 s wait for iopub to go quiet,
which no server pays before its first reply.  The clock
stops at the reply; each kernel is then shut down (unmeasured) and the next
start waits ``--settle`` seconds so that shutdowns do not overlap starts.
Targets take turns, one start each, ``--n`` times.

    python bench/kernel_start.py                      # direct, jupyter_server, adrastea
    python bench/kernel_start.py --url http://127.0.0.1:8888 --token T
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sys
import time
from collections.abc import Awaitable, Callable

import _harness as h

CHOICES = ("direct", *h.SERVER_TARGETS)
GOAL = 1.1  # Adrastea's p50 may be at most this multiple of direct's
START_TIMEOUT = 60.0


async def start_direct() -> float:
    """Seconds from start_kernel to the first kernel_info_reply; the kernel is shut down."""
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name=h.KERNEL_NAME)
    kc = None
    try:
        start = time.perf_counter()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        sent: set[str] = set()
        while time.perf_counter() - start < START_TIMEOUT:
            sent.add(kc.kernel_info())
            try:
                while True:
                    reply = await kc.get_shell_msg(timeout=1.0)
                    if reply["parent_header"].get("msg_id") in sent:
                        break
            except queue.Empty:
                continue
            break
        else:
            raise TimeoutError(f"no kernel_info_reply within {START_TIMEOUT} s")
        elapsed = time.perf_counter() - start
    finally:
        if kc is not None:
            kc.stop_channels()
        if km.has_kernel:
            await km.shutdown_kernel()
    return elapsed


def server_starter(target: h.Target, compression: str | None) -> Callable[[], Awaitable[float]]:
    """A function timing one start through ``target``'s REST + WebSocket API."""

    async def start_via_server() -> float:
        kernel_id: str | None = None
        ws: h.KernelWebSocket | None = None
        try:
            start = time.perf_counter()
            status, body = await asyncio.to_thread(
                h.http_request,
                target,
                "POST",
                "/api/kernels",
                {"name": h.KERNEL_NAME},
                START_TIMEOUT,
            )
            if status != 201 or not isinstance(body, dict) or "id" not in body:
                raise RuntimeError(f"POST /api/kernels answered HTTP {status}: {body!r:.200}")
            kernel_id = body["id"]
            ws = await h.KernelWebSocket.open(target, body["id"], compression, START_TIMEOUT)
            await ws.kernel_info(limit=START_TIMEOUT)
            elapsed = time.perf_counter() - start
        finally:
            if ws is not None:
                await ws.close()
            if kernel_id is not None:
                status, _ = await asyncio.to_thread(
                    h.http_request, target, "DELETE", f"/api/kernels/{kernel_id}"
                )
                if status != 204:
                    h.log(f"{target.name}: DELETE kernel answered HTTP {status}")
        return elapsed

    return start_via_server


async def measure(
    starters: dict[str, Callable[[], Awaitable[float]]], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """One start per target per round, ``args.warmup`` + ``args.n`` rounds."""
    samples: dict[str, list[float]] = {name: [] for name in starters}
    errors: dict[str, str] = {}
    for i in range(args.warmup + args.n):
        live = [name for name in starters if name not in errors]
        if not live:
            break
        order = live[i % len(live) :] + live[: i % len(live)]
        for name in order:
            try:
                elapsed = await asyncio.wait_for(starters[name](), START_TIMEOUT * 2)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                h.log(f"{name}: FAILED: {errors[name]}")
                continue
            if i >= args.warmup:
                samples[name].append(elapsed)
            h.log(f"{name}: start {i + 1 - args.warmup}: {elapsed * 1000:.0f} ms")
            await asyncio.sleep(args.settle)
    return samples, errors


def report(
    names: list[str],
    samples: dict[str, list[float]],
    errors: dict[str, str],
    args: argparse.Namespace,
) -> str:
    """The markdown section: parameters, table with ratios to direct, verdicts."""
    stats = {name: h.summarize(s) for name, s in samples.items() if len(s) >= 2}
    base = stats.get("direct")
    rows = []
    for name in names:
        if name in stats:
            s = stats[name]
            rows.append(
                [
                    name,
                    str(s.n),
                    f"{s.p50:.0f}",
                    f"{s.mean:.0f}",
                    f"{s.minimum:.0f}",
                    f"{max(samples[name]) * 1000:.0f}",
                    h.ratio(s.p50, base.p50 if base else None),
                    "",
                ]
            )
        else:
            reason = errors.get(name, "too few samples")
            rows.append([name, "0", "-", "-", "-", "-", "-", f"FAILED: {reason[:80]}"])
    headers = ["target", "n", "p50 ms", "mean ms", "min ms", "max ms", "p50/direct", "note"]
    lines = [
        "### kernel_start",
        "",
        f"Kernel start ({h.KERNEL_NAME}) to first kernel_info_reply, {args.warmup} warm-up"
        f" then {args.n} starts per target, taking turns, {args.settle} s settle after each.",
        "",
        h.format_table(headers, rows),
        "",
    ]
    lines += h.p50_verdicts(stats, base, GOAL, ("adrastea", "external"))
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_target_args(parser, CHOICES)
    parser.add_argument("--n", type=int, default=10, help="measured starts per target")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured starts first")
    parser.add_argument("--settle", type=float, default=0.5, help="pause after each start, s")
    h.add_ws_compression_arg(parser)
    args = parser.parse_args()
    if not 2 <= args.n <= 200 or not 0 <= args.warmup <= 20 or not 0 <= args.settle <= 10:
        h.die("need 2 <= --n <= 200, 0 <= --warmup <= 20, 0 <= --settle <= 10")
    names = h.selected_targets(args, CHOICES, baseline="direct")
    compression = h.ws_compression(args)
    with h.open_server_targets(names, args) as targets:
        starters = {
            name: start_direct if name == "direct" else server_starter(targets[name], compression)
            for name in names
        }
        samples, errors = asyncio.run(measure(starters, args))
    print(report(names, samples, errors, args))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
