"""HTTP request throughput with wrk: stock jupyter_server vs Adrastea, same routes.

For each route, each target gets ``wrk -t2 -c16 -d10s`` on loopback with the
token header; targets take turns route by route and, over ``--rounds``
rounds, in alternating order.  The best round per target and route is
reported (noise from other work on the machine only ever lowers throughput).
Both started servers serve a folder of 100 small files, which
``/api/contents/`` lists.  Any non-2xx answer or socket error voids the row.

    python bench/http_throughput.py                   # jupyter_server, adrastea
    python bench/http_throughput.py --url http://127.0.0.1:8888 --token T --contents-path dir
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import _harness as h

CHOICES = h.SERVER_TARGETS
GOAL = 1.5  # Adrastea should serve at least this multiple of stock's requests/s


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int  # non-2xx/3xx answers plus socket errors
    requests: int = 0
    cpu_us_per_request: float | None = None  # the server process's CPU time per request

    @property
    def valid(self) -> bool:
        return self.errors == 0 and self.requests_per_s > 0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec, latency p50/p99 (from ``--latency``) and error counts of wrk's report."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    if rps is None or total is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)\s*$", output, re.MULTILINE))
    errors = 0
    if non_2xx := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(non_2xx.group(1))
    if socket_errors := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        float(rps.group(1)),
        _ms(percentiles["50"]) if "50" in percentiles else None,
        _ms(percentiles["99"]) if "99" in percentiles else None,
        errors,
        int(total.group(1)),
    )


def run_wrk(wrk: str, target: h.Target, path: str, args: argparse.Namespace) -> WrkResult:
    """One bounded wrk run against ``target`` + ``path``."""
    command = [
        wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
        "--timeout", "5s", "--latency", "-H", f"Authorization: token {target.token}",
        target.url + path,
    ]  # fmt: skip
    cpu_before = h.cpu_seconds(target.pid)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.duration + 30, check=False
    )
    cpu_after = h.cpu_seconds(target.pid)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip()[:300]}")
    result = parse_wrk(done.stdout)
    if cpu_before is None or cpu_after is None or not result.requests:
        return result
    cpu = (cpu_after - cpu_before) * 1e6 / result.requests
    return dataclasses.replace(result, cpu_us_per_request=cpu)


def report(
    routes: list[str],
    names: list[str],
    best: dict[tuple[str, str], WrkResult],
    errors: dict[tuple[str, str], str],
    args: argparse.Namespace,
) -> str:
    """The markdown section: parameters, table with ratios to jupyter_server, verdicts."""
    rows = []
    verdicts = []
    for route in routes:
        base = best.get(("jupyter_server", route))
        for name in names:
            result = best.get((name, route))
            if result is None:
                reason = errors.get((name, route), "no valid run")
                rows.append([route, name, "-", "-", "-", "-", "-", "-", f"FAILED: {reason[:100]}"])
                continue
            rows.append(
                [
                    route,
                    name,
                    f"{result.requests_per_s:,.0f}",
                    f"{result.p50_ms:.2f}" if result.p50_ms is not None else "-",
                    f"{result.p99_ms:.2f}" if result.p99_ms is not None else "-",
                    h.ratio(result.requests_per_s, base.requests_per_s if base else None),
                    f"{cpu:.0f}" if (cpu := result.cpu_us_per_request) is not None else "-",
                    h.ratio(cpu, base.cpu_us_per_request if base else None),
                    "",
                ]
            )
            if name != "jupyter_server" and base is not None:
                r = result.requests_per_s / base.requests_per_s
                verdict = "met" if r >= GOAL else "MISSED"
                verdicts.append(
                    f"- {name} `{route}`: {r:.2f}x jupyter_server (goal >= {GOAL}x): {verdict}"
                )
    headers = [
        "route", "target", "req/s", "p50 ms", "p99 ms", "req/s vs jupyter_server",
        "server CPU us/req", "CPU vs jupyter_server", "note",
    ]  # fmt: skip
    lines = [
        "### http_throughput",
        "",
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` with the token"
        f" header, best of {args.rounds} round(s) per route and target;"
        f" `/api/contents/` lists a folder of {args.files} small files. Server CPU us/req:"
        " the server process's CPU time (all threads) over the run / requests served --"
        " steadier than req/s on a busy machine; lower is better.",
        "",
        h.format_table(headers, rows),
        "",
        *verdicts,
    ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_target_args(parser, CHOICES)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="runs per route and target")
    parser.add_argument("--files", type=int, default=100, help="small files in the served folder")
    parser.add_argument(
        "--contents-path",
        default="",
        help="folder (relative to the root) that /api/contents/ lists on an --url server",
    )
    args = parser.parse_args()
    if not 1 <= args.duration <= 120 or not 1 <= args.rounds <= 10:
        h.die("need 1 <= --duration <= 120 and 1 <= --rounds <= 10")
    if not 1 <= args.connections <= 1024 or not 1 <= args.threads <= args.connections:
        h.die("need 1 <= --threads <= --connections <= 1024")
    wrk = shutil.which("wrk")
    if wrk is None:
        h.die("wrk is not installed (Debian: apt-get update && apt-get install -y wrk)")
        return 2
    names = h.selected_targets(args, CHOICES, baseline="jupyter_server")
    contents = "/api/contents/" + args.contents_path.strip("/")
    routes = ["/api/status", "/api/kernelspecs", contents]
    best: dict[tuple[str, str], WrkResult] = {}
    errors: dict[tuple[str, str], str] = {}

    def populate(root: Path) -> None:
        h.populate_small_files(root, args.files)

    with h.open_server_targets(names, args, populate) as targets:
        for route in routes:
            for name in names:
                status, _ = h.http_request(targets[name], "GET", route)
                if status != 200:
                    errors[(name, route)] = f"GET answered HTTP {status}"
                    h.log(f"{name} {route}: HTTP {status}, skipped")
        for round_no in range(args.rounds):
            for route in routes:
                order = names if round_no % 2 == 0 else names[::-1]
                for name in order:
                    if (name, route) in errors:
                        continue
                    try:
                        result = run_wrk(wrk, targets[name], route, args)
                    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                        errors[(name, route)] = str(exc)
                        h.log(f"{name} {route}: FAILED: {exc}")
                        continue
                    h.log(
                        f"round {round_no + 1} {name} {route}: {result.requests_per_s:,.0f} req/s"
                        f", {result.errors} errors"
                    )
                    if not result.valid:
                        errors[(name, route)] = f"{result.errors} non-2xx answers or socket errors"
                        best.pop((name, route), None)
                        continue
                    previous = best.get((name, route))
                    if previous is None or result.requests_per_s > previous.requests_per_s:
                        best[(name, route)] = result
    print(report(routes, names, best, errors, args))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
