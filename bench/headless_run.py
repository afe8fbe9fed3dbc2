"""Headless runs: ``adrastea run`` / ``adrastea sweep`` against papermill, nbclient and nbconvert.

Three measurements, every tool taking turns in each of ``--rounds`` rounds:

a) **Per-cell overhead.**  Each tool runs a notebook of ``--cells`` (200)
   trivial cells: the first starts a clock in the kernel
   (``_t0 = time.perf_counter()``), the rest are ``pass`` but the last, which
   prints the clock.  Per-cell overhead = that span / 199: the time from one
   cell to the next, tool and kernel together, with no process or kernel
   start in it (those vary by seconds from run to run on a shared machine).
   The wall-time estimate (T(200 cells) - T(1 cell)) / 199 is shown too.
   Tools: ``papermill`` CLI, ``nbclient`` (Python API in this process:
   ``NotebookClient(nb).execute()``), ``jupyter nbconvert --to notebook
   --execute`` (as ``python -m nbconvert``), ``adrastea run``.
b) **Fixed cost** of a command = T(1 cell) - kernel start, for the three CLIs
   (nbclient shown for reference: it pays no interpreter start or imports).
   Every tool runs the one-cell notebook once, unmeasured, before the rounds.
   Kernel start is measured in the same rounds: jupyter_client's
   ``start_kernel`` until the first ``kernel_info_reply`` (as ``kernel_start.py``
   does for ``direct``).
c) **Local sweep**: ``--points`` (16) runs of a notebook whose cell sleeps 1 s,
   ``--parallel`` (4) at a time: ``adrastea sweep NB --grid a=1,...,16
   --max-parallel 4`` against the papermill CLI run for the same 16 points by a
   pool of 4 workers (``python -m papermill NB OUT -p a N``).

Every command's output notebook is checked (every code cell has an execution
count), so a tool that silently skips cells is a failure, not a fast result.
CLI commands run with ``python -m`` under this interpreter.

    python bench/headless_run.py
    python bench/headless_run.py --cells 50 --rounds 1 --points 8   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import _harness as h

TOOLS = ("papermill", "nbclient", "nbconvert", "adrastea")
CLI_TOOLS = ("papermill", "nbconvert", "adrastea")
PER_CELL_GOAL = 0.33  # Adrastea's per-cell overhead at most this multiple of papermill's
FIXED_GOAL = 0.5  # seconds of fixed cost (one-cell run minus kernel start), at most
SWEEP_GOAL = 0.7  # Adrastea's sweep wall time at most this multiple of papermill's
LIMIT = 600.0  # seconds one command may take


class Failed(RuntimeError):
    """A command failed or its output notebook is incomplete."""


def check_executed(path: Path) -> None:
    """Raise ``Failed`` unless every code cell of the notebook at ``path`` has run."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Failed(f"no output notebook {path.name}: {exc}") from None
    code = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    missing = sum(1 for c in code if c.get("execution_count") is None)
    if not code or missing:
        raise Failed(f"{path.name}: {missing} of {len(code)} code cells not executed")


def run_command(command: list[str], log_path: Path) -> float:
    """Run ``command`` (output to ``log_path``); seconds; ``Failed`` on a non-zero exit."""
    with log_path.open("wb") as out:
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=LIMIT, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise Failed(f"{command[2]} took over {LIMIT} s") from None
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-300:].strip().replace("\n", " | ")
        raise Failed(f"{command[2]} exited {done.returncode}: {tail}")
    return elapsed


def tool_command(tool: str, notebook: Path, out: Path) -> list[str]:
    """The command line with which CLI ``tool`` runs ``notebook`` into ``out``."""
    python = sys.executable
    if tool == "papermill":
        return [python, "-m", "papermill", str(notebook), str(out)]
    if tool == "nbconvert":
        return [
            python, "-m", "nbconvert", "--to", "notebook", "--execute", str(notebook),
            "--output-dir", str(out.parent), "--output", out.name,
        ]  # fmt: skip
    if tool == "adrastea":
        return [python, "-m", "adrastea", "run", str(notebook), "-o", str(out)]
    raise ValueError(tool)


def run_tool(tool: str, notebook: Path, work: Path) -> tuple[float, Path]:
    """Seconds for ``tool`` to run ``notebook``, and the output notebook (checked)."""
    out = work / f"{notebook.stem}.{tool}.ipynb"
    out.unlink(missing_ok=True)
    if tool == "nbclient":
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.read(notebook, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, kernel_name=h.KERNEL_NAME, timeout=int(LIMIT)).execute()
        elapsed = time.perf_counter() - start
        nbformat.write(nb, out)
    else:
        elapsed = run_command(tool_command(tool, notebook, out), work / f"{tool}.log")
    check_executed(out)
    return elapsed, out


def kernel_span(path: Path) -> float:
    """The seconds the last cell of the timing notebook at ``path`` printed."""
    nb = json.loads(path.read_text())
    outputs = nb["cells"][-1].get("outputs", [])
    text = "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for o in outputs
        if o.get("output_type") == "stream"
    )
    try:
        return float(text.strip())
    except ValueError:
        raise Failed(f"{path.name}: the last cell printed {text[:80]!r}, not seconds") from None


def timing_cells(cells: int) -> list[str]:
    """``cells`` trivial cells; the first starts a clock in the kernel, the last prints it.

    The span covers ``cells - 1`` cell-to-cell transitions with no process or
    kernel start in it, so it measures the per-cell cost alone, whatever the
    noise on the start-up of the command.
    """
    return [
        "import time as _t\n_t0 = _t.perf_counter()",
        *["pass"] * (cells - 2),
        "print(_t.perf_counter() - _t0)",
    ]


def kernel_start() -> float:
    """Seconds from ``start_kernel`` to the first ``kernel_info_reply`` (kernel shut down after)."""
    from kernel_start import start_direct

    return asyncio.run(start_direct())


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _rotated(names: list[str], shift: int) -> list[str]:
    shift %= len(names)
    return names[shift:] + names[:shift]


@dataclass
class CellRuns:
    """Results of (a) and (b), by tool."""

    t_one: dict[str, list[float]]  # seconds to run the one-cell notebook
    t_many: dict[str, list[float]]  # seconds to run the --cells notebook
    spans: dict[str, list[float]]  # in-kernel seconds from its first to its last cell
    starts: list[float]  # direct kernel starts
    errors: dict[str, str]


def measure_cells(tools: list[str], work: Path, args: argparse.Namespace) -> CellRuns:
    """(a) and (b): T(1 cell) and T(N cells) per tool, and kernel starts, taking turns."""
    one, many = work / "one_cell.ipynb", work / f"cells_{args.cells}.ipynb"
    h.write_code_notebook(one, ["pass"])
    h.write_code_notebook(many, timing_cells(args.cells))
    runs = CellRuns({t: [] for t in tools}, {t: [] for t in tools}, {t: [] for t in tools}, [], {})
    for tool in tools:  # warm-up, unmeasured: the first start of a command reads cold files
        try:
            run_tool(tool, one, work)
        except Failed as exc:
            runs.errors[tool] = str(exc)
            h.log(f"{tool}: FAILED: {exc}")
    for round_no in range(args.rounds):
        runs.starts.append(kernel_start())
        h.log(f"round {round_no + 1}: kernel start {runs.starts[-1]:.2f} s")
        for tool in _rotated(tools, round_no):
            if tool in runs.errors:
                continue
            try:
                first, _ = run_tool(tool, one, work)
                second, out = run_tool(tool, many, work)
                span = kernel_span(out)
            except Failed as exc:
                runs.errors[tool] = str(exc)
                h.log(f"{tool}: FAILED: {exc}")
                continue
            runs.t_one[tool].append(first)
            runs.t_many[tool].append(second)
            runs.spans[tool].append(span)
            h.log(
                f"round {round_no + 1} {tool}: 1 cell {first:.2f} s, {args.cells} cells"
                f" {second:.2f} s, per cell {span / (args.cells - 1) * 1e3:.2f} ms in the kernel,"
                f" {(second - first) / (args.cells - 1) * 1e3:.1f} ms by difference"
            )
    runs.starts.append(kernel_start())
    return runs


def papermill_pool(notebook: Path, out: Path, points: int, parallel: int) -> float:
    """The papermill CLI for points a=1..N, ``parallel`` at a time; seconds for all."""

    def one(point: int) -> float:
        target = out / f"a={point}.ipynb"
        command = [sys.executable, "-m", "papermill", str(notebook), str(target)]
        command += ["-p", "a", str(point)]
        seconds = run_command(command, out / f"a={point}.log")
        check_executed(target)
        return seconds

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(one, range(1, points + 1)))
    return time.perf_counter() - start


def adrastea_sweep(notebook: Path, out: Path, points: int, parallel: int) -> float:
    """``adrastea sweep`` for points a=1..N with ``--max-parallel``; seconds."""
    grid = "a=" + ",".join(str(p) for p in range(1, points + 1))
    command = [sys.executable, "-m", "adrastea", "sweep", str(notebook), "--grid", grid]
    command += ["--out", str(out / "sweep"), "--max-parallel", str(parallel)]
    seconds = run_command(command, out / "sweep.log")
    results = sorted((out / "sweep").glob("*.ipynb"))
    if len(results) != points:
        raise Failed(f"adrastea sweep wrote {len(results)} notebooks, not {points}")
    for path in results:
        check_executed(path)
    return seconds


def measure_sweep(
    work: Path, args: argparse.Namespace, names: list[str]
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """(c): both sweeps, taking turns, each in a fresh output folder."""
    notebook = work / "sleep.ipynb"
    h.write_code_notebook(notebook, ["import time\ntime.sleep(1)"], parameters="a = 0")
    runs: dict[str, Callable[[Path, Path, int, int], float]] = {
        "papermill": papermill_pool,
        "adrastea": adrastea_sweep,
    }
    times: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    for round_no in range(args.sweep_rounds):
        for name in _rotated(names, round_no):
            if name in errors:
                continue
            with tempfile.TemporaryDirectory(prefix=f"sweep-{name}-", dir=work) as out:
                try:
                    seconds = runs[name](notebook, Path(out), args.points, args.parallel)
                except Failed as exc:
                    errors[name] = str(exc)
                    h.log(f"sweep {name}: FAILED: {exc}")
                    continue
            times[name].append(seconds)
            h.log(f"round {round_no + 1} sweep {name}: {seconds:.2f} s")
    return times, errors


def report(
    tools: list[str],
    runs: CellRuns,
    sweep: tuple[dict[str, list[float]], dict[str, str]] | None,
    args: argparse.Namespace,
) -> str:
    """The markdown section: three tables with ratios to papermill, verdicts."""
    gaps = args.cells - 1
    kernel = _median(runs.starts)
    per_cell = {t: _median([span / gaps for span in runs.spans[t]]) for t in tools}
    by_difference = {
        t: _median([(b - a) / gaps for a, b in zip(runs.t_one[t], runs.t_many[t], strict=True)])
        for t in tools
    }
    fixed: dict[str, float | None] = {}
    best: dict[str, float | None] = {}
    for tool in tools:
        first = _median(runs.t_one[tool])
        fixed[tool] = None if kernel is None or first is None else first - kernel
        fastest = min(runs.t_one[tool], default=None)
        best[tool] = None if kernel is None or fastest is None else fastest - kernel
    base_cell, base_fixed = per_cell.get("papermill"), fixed.get("papermill")

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1e3:.1f}"

    def s(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows_a, rows_b = [], []
    for tool in tools:
        note = f"FAILED: {runs.errors[tool][:80]}" if tool in runs.errors else ""
        rows_a.append(
            [
                tool, str(len(runs.spans[tool])), ms(per_cell[tool]),
                h.ratio(per_cell[tool], base_cell), s(_median(runs.t_one[tool])),
                s(_median(runs.t_many[tool])), ms(by_difference[tool]), note,
            ]
        )  # fmt: skip
        shown = tool if tool in CLI_TOOLS else f"{tool} (in-process, reference)"
        rows_b.append(
            [shown, s(_median(runs.t_one[tool])), s(kernel), s(fixed[tool]), s(best[tool]),
             h.ratio(fixed[tool], base_fixed), note]
        )  # fmt: skip
    headers_a = [
        "tool", "n", "per cell ms (kernel clock)", "vs papermill", "T(1) s", f"T({args.cells}) s",
        "per cell ms (wall difference)", "note",
    ]  # fmt: skip
    headers_b = [
        "command", "T(1) s", "kernel start s", "fixed cost s", "best s", "vs papermill", "note",
    ]  # fmt: skip
    lines = [
        "### headless_run",
        "",
        f"(a) Per-cell overhead of {args.cells}-cell notebooks (`pass` cells; the first starts"
        f" a clock in the kernel, the last prints it): kernel-clock span / {gaps}, median of"
        f" {args.rounds} round(s), tools taking turns. This excludes every start-up cost. For"
        f" comparison, (T({args.cells} cells) - T(1 cell)) / {gaps} from wall times, which"
        " start-up noise of several seconds blurs for the slow-starting CLIs. CLIs as"
        " `python -m TOOL`; nbclient in this process (`NotebookClient(nb).execute()`).",
        "",
        h.format_table(headers_a, rows_a),
        "",
        f"(b) Fixed cost = T(1 cell) - kernel start (jupyter_client start_kernel to first"
        f" kernel_info_reply, median of {len(runs.starts)}: {s(kernel)} s); median, and best"
        " (fastest T(1)).",
        "",
        h.format_table(headers_b, rows_b),
        "",
    ]
    if sweep is not None:
        times, sweep_errors = sweep
        base = _median(times.get("papermill", []))
        rows_c = []
        for name, got in times.items():
            note = f"FAILED: {sweep_errors[name][:80]}" if name in sweep_errors else ""
            label = (
                f"papermill CLI x{args.points}, pool of {args.parallel}"
                if name == "papermill"
                else f"adrastea sweep --max-parallel {args.parallel}"
            )
            rows_c += [
                [label, str(len(got)), s(_median(got)), s(min(got) if got else None),
                 h.ratio(_median(got), base), note]
            ]  # fmt: skip
        lines += [
            f"(c) Local sweep: {args.points} points of a notebook whose cell sleeps 1 s,"
            f" {args.parallel} at a time; median of {args.sweep_rounds} round(s), alternating.",
            "",
            h.format_table(["run", "n", "wall s", "min s", "vs papermill", "note"], rows_c),
            "",
        ]
    ours, theirs = per_cell.get("adrastea"), per_cell.get("papermill")
    if ours is not None and theirs:
        r = ours / theirs
        lines.append(
            f"- adrastea run: per-cell overhead {ours * 1e3:.1f} ms = {r:.2f}x papermill's"
            f" (goal <= {PER_CELL_GOAL}x): {'met' if r <= PER_CELL_GOAL else 'MISSED'}"
        )
    if fixed.get("adrastea") is not None:
        f = fixed["adrastea"]
        assert f is not None
        lines.append(
            f"- adrastea run: fixed cost {f:.2f} s (goal <= {FIXED_GOAL} s):"
            f" {'met' if f <= FIXED_GOAL else 'MISSED'}"
        )
    if sweep is not None:
        ours_s, theirs_s = (
            _median(sweep[0].get("adrastea", [])),
            _median(sweep[0].get("papermill", [])),
        )
        if ours_s is not None and theirs_s:
            r = ours_s / theirs_s
            lines.append(
                f"- adrastea sweep: {r:.2f}x papermill's wall time (goal <= {SWEEP_GOAL}x):"
                f" {'met' if r <= SWEEP_GOAL else 'MISSED'}"
            )
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--cells", type=int, default=200, help="cells of the long notebook")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (a) and (b)")
    parser.add_argument("--points", type=int, default=16, help="sweep points")
    parser.add_argument("--parallel", type=int, default=4, help="sweep runs at a time")
    parser.add_argument("--sweep-rounds", type=int, default=2, help="rounds of (c)")
    parser.add_argument("--no-sweep", action="store_true", help="skip (c)")
    args = parser.parse_args()
    if not 3 <= args.cells <= 5000 or not 1 <= args.rounds <= 20:
        h.die("need 3 <= --cells <= 5000 and 1 <= --rounds <= 20")
    if not 1 <= args.points <= 256 or not 1 <= args.parallel <= 32 or args.sweep_rounds < 1:
        h.die("need 1 <= --points <= 256, 1 <= --parallel <= 32, --sweep-rounds >= 1")
    tools = [t.strip() for t in (args.tools or ",".join(TOOLS)).split(",") if t.strip()]
    if unknown := [t for t in tools if t not in TOOLS]:
        h.die(f"unknown tool(s) {unknown}; choose from {list(TOOLS)}")
    with tempfile.TemporaryDirectory(prefix="bench-headless-") as tmp:
        work = Path(tmp)
        runs = measure_cells(tools, work, args)
        sweep = None
        if not args.no_sweep:
            names = [t for t in ("papermill", "adrastea") if t in tools]
            sweep = measure_sweep(work, args, names) if names else None
    print(report(tools, runs, sweep, args))
    return 1 if runs.errors or (sweep is not None and sweep[1]) else 0


if __name__ == "__main__":
    sys.exit(main())
