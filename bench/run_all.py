"""Run every benchmark and append a dated section to ``bench/RESULTS.md``.

Each benchmark runs as its own process (``python bench/<name>.py``), its
progress shown live, its markdown result collected.  The section records the
exact commands, ``date -u``, machine facts and every table.  Exits non-zero if
any benchmark failed (its partial output is still recorded).

    python bench/run_all.py                       # all targets, full size
    python bench/run_all.py --quick --no-write    # smoke test, print only
    python bench/run_all.py --url http://127.0.0.1:8888 --token T   # the first three only
    python bench/run_all.py --only output_flood --only headless_run
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import _harness as h

BENCH = Path(__file__).resolve().parent
SCRIPTS = (
    "kernel_roundtrip",
    "kernel_start",
    "http_throughput",
    "output_flood",
    "open_large_notebook",
    "document_roundtrip",
    "headless_run",
)
QUICK = {
    "kernel_roundtrip": ["--n", "60", "--warmup", "5", "--block", "20"],
    "kernel_start": ["--n", "3"],
    "http_throughput": ["--duration", "2", "--rounds", "1"],
    "output_flood": ["--rounds", "1", "--mb", "10", "--lines", "50000"],
    "open_large_notebook": ["--rounds", "1", "--cells", "100"],
    "document_roundtrip": ["--n", "40", "--warmup", "5", "--block", "10"],
    "headless_run": ["--rounds", "1", "--cells", "50", "--points", "8", "--sweep-rounds", "1"],
}
# The incumbents alone (--no-adrastea), as each script's own option.
INCUMBENTS = {
    "kernel_roundtrip": ["--targets", "direct,jupyter_server"],
    "kernel_start": ["--targets", "direct,jupyter_server"],
    "http_throughput": ["--targets", "jupyter_server"],
    "output_flood": ["--targets", "direct,jupyter_server"],
    "open_large_notebook": ["--targets", "jupyter_server"],
    "document_roundtrip": ["--targets", "direct"],
    "headless_run": ["--tools", "papermill,nbclient,nbconvert"],
}
# Scripts that can measure an already running server (--url); the others write
# notebooks into the served folder, so they start their own servers.
URL_SCRIPTS = ("kernel_roundtrip", "kernel_start", "http_throughput")
TIMEOUT = 1800  # seconds per benchmark, far above a normal run


def _output(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"
    return done.stdout.strip() or done.stderr.strip()


def _adrastea_location() -> str:
    """Where the benchmarks' ``adrastea`` comes from (the work tree, or e.g. a PYTHONPATH copy)."""
    return _output(
        sys.executable, "-c", "import adrastea, os; print(os.path.dirname(adrastea.__file__))"
    )


def machine_facts() -> list[str]:
    """Bullet lines: nproc, CPU, kernel, load, Python and package versions, commit."""
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = _output("git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD")
    # Read-only: other work happens in the same tree, so say what was uncommitted.
    status = _output(
        "git", "-C", str(BENCH.parent), "status", "--porcelain", "--untracked-files=all"
    )
    paths = [line.split(maxsplit=1)[-1] for line in status.splitlines() if line.strip()]
    changed = [path for path in paths if not path.startswith("bench/")]
    return [
        f"- machine: nproc={_output('nproc')}, {cpu}, {platform.system()} {platform.release()},"
        f" load average at start {load}",
        f"- python: {sys.version.split()[0]} ({sys.executable})",
        f"- versions: {h.environment_line()}",
        f"- adrastea imported from: {_adrastea_location()}",
        f"- adrastea source: {BENCH.parent} at commit {commit} (plus any uncommitted work)",
        f"- uncommitted outside bench/ at start: {', '.join(changed) if changed else 'none'}",
    ]


def command_for(name: str, args: argparse.Namespace) -> list[str]:
    """The command line that runs benchmark ``name`` with the options given to us."""
    command = [sys.executable, str(BENCH / f"{name}.py")]
    if args.quick:
        command += QUICK[name]
    if args.url and name in URL_SCRIPTS:
        command += ["--url", args.url, "--token", args.token]
        if args.pid is not None:
            command += ["--pid", str(args.pid)]
    if args.no_adrastea:
        command += INCUMBENTS[name]
    return command


def shown(command: list[str], token: str) -> str:
    """``command`` as a shell line, with ``python`` for our interpreter and no token."""
    words = ["python" if word == sys.executable else word for word in command]
    words = [os.path.relpath(w, BENCH.parent) if w.startswith(str(BENCH)) else w for w in words]
    return shlex.join(words).replace(token, "TOKEN") if token else shlex.join(words)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="measure this running server instead of starting Adrastea")
    parser.add_argument("--token", default="", help="token of the --url server")
    parser.add_argument("--pid", type=int, help="process id of the --url server (for CPU time)")
    parser.add_argument("--only", action="append", choices=SCRIPTS, help="run just these")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--no-adrastea", action="store_true", help="incumbents only")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()

    date = _output("date", "-u")
    invocation = shlex.join(["python", os.path.relpath(__file__), *sys.argv[1:]])
    if args.token:
        invocation = invocation.replace(args.token, "TOKEN")
    lines = [
        f"## {date}",
        "",
        f"- command: `{invocation}` (from `{BENCH.parent}`)",
        f"- date: `{date}`",
        *machine_facts(),
        "",
    ]
    failed: list[str] = []
    for name in args.only or SCRIPTS:
        if args.url and name not in URL_SCRIPTS:
            h.log(f"skipping {name}: it starts its own servers and cannot use --url")
            lines += [f"`{name}` skipped: it cannot measure a --url server.", ""]
            continue
        command = command_for(name, args)
        h.log(f"running {shown(command, args.token)}")
        try:
            done = subprocess.run(
                command, stdout=subprocess.PIPE, text=True, timeout=TIMEOUT, check=False
            )
            output, code = done.stdout, done.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = str(exc.stdout or ""), -1
        print(output, flush=True)
        lines += [f"`{shown(command, args.token)}`", "", output.strip() or "(no output)", ""]
        if code != 0:
            failed.append(name)
            lines += [f"**{name} exited with code {code}.**", ""]

    section = "\n".join(lines).rstrip() + "\n"
    if not args.no_write:
        header = "" if args.results.exists() else "# Benchmark results\n\nNewest last.\n"
        with args.results.open("a") as out:
            out.write(header + "\n" + section)
        h.log(f"appended to {args.results}")
    if failed:
        h.log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
