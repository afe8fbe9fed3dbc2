"""Opening a large notebook: stock ``GET /api/contents/{nb}`` vs Adrastea's live document.

The notebook (written once, into every server's root): ``--cells`` code cells
(500), each with one stream output of ``--output-kb`` KB (100), i.e. 50 MB of
output text in about 53 MB of ``.ipynb``.  Each output is under Adrastea's
display cap, so its document holds all of it, as Jupyter's model does.

Every measurement uses a freshly started server (nothing cached, no earlier
peak), and the measurements take turns, ``--rounds`` times:

- ``jupyter_server``: ``GET /api/contents/big.ipynb`` (content included) until
  the body is received, and until it is parsed (the client has the notebook);
- ``adrastea``: connect a y-websocket client to ``/api/documents/big.ipynb``
  until its replica holds the server's document (SYNC_STEP2 applied), which
  includes the server loading the file;
- ``adrastea_get``: for reference, Adrastea's own ``GET /api/contents/big.ipynb``.

Server memory: the server process's peak RSS during the request minus its RSS
before it (VmHWM - VmRSS from ``/proc/PID/status``, peak reset first), and its
RSS growth still held a second later.

    python bench/open_large_notebook.py
    python bench/open_large_notebook.py --cells 100 --rounds 1     # quick
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import _harness as h

CHOICES = ("jupyter_server", "adrastea", "adrastea_get")
TIME_GOAL = 0.2  # Adrastea's median time may be at most this multiple of jupyter_server's
MEMORY_GOAL = 0.5  # and its peak RSS growth at most this multiple
NOTEBOOK = "big.ipynb"
LIMIT = 300.0  # seconds one open may take
SETTLE = 1.0  # seconds after the open before the retained RSS is read


def write_big_notebook(path: Path, cells: int, output_kb: int, seed: int = 1) -> int:
    """Write the notebook; returns its size in bytes.  Lines of ~100 printable characters."""
    rng = random.Random(seed)
    lines_per_cell = max(output_kb * 1000 // 100, 1)
    nb_cells = []
    for c in range(cells):
        lines = [
            f"{c:03d}:{i:04d} {rng.randbytes(45).hex()}\n"[:99] + "\n"
            for i in range(lines_per_cell)
        ]
        nb_cells.append(
            {
                "cell_type": "code",
                "execution_count": c + 1,
                "id": f"cell-{c:04d}",
                "metadata": {},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": lines}],
                "source": [f"show_part({c})"],
            }
        )
    nb = {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"name": h.KERNEL_NAME, "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    data = json.dumps(nb, indent=1).encode()
    path.write_bytes(data)
    return len(data)


@dataclass
class Sample:
    """One open, in a fresh server."""

    seconds: float  # until the client has the notebook
    received_s: float | None  # GET only: until the body was received (not parsed)
    client_bytes: int  # payload bytes the client received
    wire_bytes: int | None  # document client only: TCP bytes received (after compression)
    extensions: str  # WebSocket extensions negotiated, or "(http)"
    rss_kib: int | None  # server peak RSS growth during the open
    retained_kib: int | None  # server RSS growth still held SETTLE s later


def _server(name: str, root: Path) -> AbstractContextManager[h.Target]:
    import secrets

    starter = h.jupyter_server if name == "jupyter_server" else h.adrastea_server
    return starter(root, secrets.token_hex(16))


def get_contents(target: h.Target) -> tuple[float, float, int]:
    """``GET /api/contents/big.ipynb``: (seconds to body received, to parsed, body bytes)."""
    parts = urlsplit(target.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=LIMIT)
    try:
        start = time.perf_counter()
        conn.request("GET", f"/api/contents/{NOTEBOOK}?content=1", headers=target.headers)
        response = conn.getresponse()
        body = response.read()
        received = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"GET answered HTTP {response.status}: {body[:200]!r}")
        model = json.loads(body)
        parsed = time.perf_counter() - start
    finally:
        conn.close()
    if len(model["content"]["cells"]) == 0:
        raise RuntimeError("GET returned a notebook without cells")
    return received, parsed, len(body)


async def open_document(
    target: h.Target, cells: int, compression: str | None
) -> tuple[float, int, int, str]:
    """Connect a document client until synced: (seconds, payload bytes, wire bytes, extensions)."""
    async with h.open_document(target, NOTEBOOK, compression, limit=LIMIT) as doc:
        got = len(doc.client.notebook.ycells)
        if got != cells:
            raise RuntimeError(f"the synced document has {got} cells, not {cells}")
        socket = doc.socket
        return doc.synced_s, socket.payload_bytes, socket.wire_bytes, socket.extensions


def fresh_root(source: Path) -> tempfile.TemporaryDirectory[str]:
    """A new temporary root holding (a hard link to, else a copy of) the notebook ``source``.

    A new root for every server: Adrastea keeps its state (document journal,
    spill files) in ``ROOT/.adrastea``, which a second server would replay.
    """
    tmp = tempfile.TemporaryDirectory(prefix="bench-open-root-")
    target = Path(tmp.name) / NOTEBOOK
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return tmp


def measure_once(name: str, source: Path, args: argparse.Namespace) -> Sample:
    """Start a fresh server for ``name``, open the notebook once, stop the server."""
    compression = h.ws_compression(args)
    server_name = "jupyter_server" if name == "jupyter_server" else "adrastea"
    with fresh_root(source) as root, _server(server_name, Path(root)) as target:
        time.sleep(args.idle)  # let the fresh server finish whatever it does after start
        memory = h.PeakMemory(target.pid).start()
        received: float | None = None
        wire: int | None = None
        extensions = "(http)"
        if name == "adrastea":
            opened = asyncio.run(open_document(target, args.cells, compression))
            seconds, nbytes, wire, extensions = opened
        else:
            received, seconds, nbytes = get_contents(target)
        rss = memory.growth_kib()
        time.sleep(SETTLE)
        now = memory.rss_kib()
        retained = None if now is None or memory.before is None else now - memory.before
        return Sample(seconds, received, nbytes, wire, extensions, rss, retained)


def _rotations(names: list[str], rounds: int) -> Iterator[tuple[int, str]]:
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            yield round_no, name


def measure(
    names: list[str], source: Path, args: argparse.Namespace
) -> tuple[dict[str, list[Sample]], dict[str, str]]:
    """Every target once per round, rotating the order; a failed target is dropped."""
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    for round_no, name in _rotations(names, args.rounds):
        if name in errors:
            continue
        try:
            sample = measure_once(name, source, args)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            h.log(f"{name}: FAILED: {errors[name]}")
            continue
        samples[name].append(sample)
        h.log(
            f"round {round_no + 1} {name}: {sample.seconds:.2f} s, server RSS peak"
            f" +{h.mb(None if sample.rss_kib is None else sample.rss_kib * 1024)} MB"
        )
    return samples, errors


def _median(values: list[float], scale: float = 1.0) -> float | None:
    return statistics.median(values) * scale if values else None


def report(
    names: list[str],
    samples: dict[str, list[Sample]],
    errors: dict[str, str],
    size: int,
    args: argparse.Namespace,
) -> str:
    """The markdown section: table with ratios to jupyter_server, verdicts."""
    med: dict[str, dict[str, float | None]] = {}
    for name, got in samples.items():
        med[name] = {
            "s": _median([s.seconds for s in got]),
            "recv": _median([s.received_s for s in got if s.received_s is not None]),
            "bytes": _median([float(s.client_bytes) for s in got]),
            "wire": _median([float(s.wire_bytes) for s in got if s.wire_bytes is not None]),
            "rss": _median([float(s.rss_kib) for s in got if s.rss_kib is not None], 1024),
            "kept": _median(
                [float(s.retained_kib) for s in got if s.retained_kib is not None], 1024
            ),
        }
    base = med.get("jupyter_server", {})

    def pick(name: str, key: str) -> float | None:
        return med.get(name, {}).get(key)

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = []
    for name in names:
        if not samples.get(name):
            reason = errors.get(name, "no samples")
            rows.append([name, "0", *["-"] * 8, f"FAILED: {reason[:80]}"])
            continue
        rows.append(
            [
                name,
                str(len(samples[name])),
                seconds(pick(name, "s")),
                seconds(pick(name, "recv")),
                h.ratio(pick(name, "s"), base.get("s")),
                h.mb(pick(name, "bytes"))
                + ("" if pick(name, "wire") is None else f" / {h.mb(pick(name, 'wire'))}"),
                ", ".join(sorted({s.extensions for s in samples[name]})),
                h.mb(pick(name, "rss")),
                h.ratio(pick(name, "rss"), base.get("rss")),
                h.mb(pick(name, "kept")),
                "",
            ]
        )
    headers = [
        "target", "n", "client has it, s (median)", "body received, s", "time vs jupyter_server",
        "to client MB (payload / wire)", "ws ext", "server RSS peak +MB", "RSS vs jupyter_server",
        "RSS held +MB", "note",
    ]  # fmt: skip
    lines = [
        "### open_large_notebook",
        "",
        f"A {size / 1e6:.1f} MB notebook: {args.cells} cells, each one stream output of"
        f" {args.output_kb} KB. A fresh server for every measurement, {args.rounds} round(s),"
        " rotating order. `jupyter_server`/`adrastea_get`: `GET /api/contents/big.ipynb` until"
        " the JSON is received and parsed; `adrastea`: a y-websocket client (compression offered:"
        f" {args.ws_compression}) until its replica is synced, server-side load included. Server"
        f" RSS: peak growth during the open (median); held: growth still held {SETTLE:g} s later.",
        "",
        h.format_table(headers, rows),
        "",
    ]
    ours, theirs = med.get("adrastea"), med.get("jupyter_server")
    if ours and theirs and ours["s"] and theirs["s"]:
        r = ours["s"] / theirs["s"]
        lines.append(
            f"- adrastea: time {r:.2f}x jupyter_server (goal <= {TIME_GOAL}x):"
            f" {'met' if r <= TIME_GOAL else 'MISSED'}"
        )
    if ours and theirs and ours["rss"] is not None and theirs["rss"]:
        r = ours["rss"] / theirs["rss"]
        lines.append(
            f"- adrastea: server RSS peak growth {r:.2f}x jupyter_server (goal <= {MEMORY_GOAL}x):"
            f" {'met' if r <= MEMORY_GOAL else 'MISSED'}"
        )
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_local_target_args(parser, CHOICES)
    parser.add_argument("--cells", type=int, default=500, help="code cells in the notebook")
    parser.add_argument("--output-kb", type=int, default=100, help="KB of output per cell")
    parser.add_argument("--rounds", type=int, default=3, help="opens per target")
    parser.add_argument("--idle", type=float, default=1.0, help="s to wait after a server start")
    h.add_ws_compression_arg(parser)
    args = parser.parse_args()
    if not 1 <= args.cells <= 5000 or not 1 <= args.output_kb <= 10_000:
        h.die("need 1 <= --cells <= 5000 and 1 <= --output-kb <= 10000")
    if not 1 <= args.rounds <= 20 or not 0 <= args.idle <= 30:
        h.die("need 1 <= --rounds <= 20 and 0 <= --idle <= 30")
    names = h.selected_targets(args, CHOICES, baseline="jupyter_server")
    with tempfile.TemporaryDirectory(prefix="bench-open-") as tmp:
        source = Path(tmp) / NOTEBOOK
        size = write_big_notebook(source, args.cells, args.output_kb)
        h.log(f"wrote {source}: {size / 1e6:.1f} MB, {args.cells} cells")
        samples, errors = measure(names, source, args)
    print(report(names, samples, errors, size, args))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
