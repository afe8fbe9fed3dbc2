"""Slurm kernel start vs local kernel start: submit to first ``kernel_info_reply``.

    python bench/slurm_kernel_start.py [--n 10]

Starts ipykernel ``--n`` times through the ``adrastea-slurm`` provisioner
(``sbatch`` of the generated script; the job picks its ports and writes the
connection file back) and ``--n`` times locally (jupyter_client's
``LocalProvisioner``), one at a time, interleaved so that machine load hits
both alike.  Each start is timed from ``start_kernel()`` to the first
``kernel_info_reply``; the Slurm rows also split that at the moment the
connection file arrived (``start_kernel()`` returned).  Prints p50/min/max and
the ratio of the p50s.  Uses ``SLURM_CONF`` from the environment, else starts
the dev cluster (``scripts/slurm-dev-cluster``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from jupyter_client.manager import AsyncKernelManager

ROOT = Path(__file__).resolve().parents[1]
ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def ensure_cluster() -> None:
    if os.environ.get("SLURM_CONF"):
        return
    script = ROOT / "scripts" / "slurm-dev-cluster"
    subprocess.run([str(script), "start"], check=True)
    env = subprocess.run([str(script), "env"], check=True, capture_output=True, text=True)
    os.environ["SLURM_CONF"] = env.stdout.strip().removeprefix("export SLURM_CONF=")


def write_kernelspecs(root: Path, partition: str | None) -> None:
    config: dict[str, object] = {"jobs_dir": str(root / "jobs"), "time": "10"}
    if partition:
        config["partition"] = partition
    specs = {
        "bench-slurm": {
            "kernel_provisioner": {"provisioner_name": "adrastea-slurm", "config": config}
        },
        "bench-local": {},
    }
    for name, metadata in specs.items():
        folder = root / "kernels" / name
        folder.mkdir(parents=True)
        spec = {"argv": ARGV, "display_name": name, "language": "python", "metadata": metadata}
        (folder / "kernel.json").write_text(json.dumps(spec))


async def one_start(name: str) -> tuple[float, float]:
    """(seconds to start_kernel() returning, seconds to the first kernel_info_reply)."""
    km = AsyncKernelManager(kernel_name=name)
    begun = time.perf_counter()
    # A local kernel's stderr (a TCP warning) would drown the progress lines.
    await km.start_kernel(stderr=subprocess.DEVNULL)
    launched = time.perf_counter() - begun
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        answered = time.perf_counter() - begun
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return launched, answered


def row(label: str, values: list[float]) -> str:
    return f"| {label} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"


async def main(n: int, partition: str | None) -> None:
    slurm: list[tuple[float, float]] = []
    local: list[tuple[float, float]] = []
    for i in range(n):
        slurm.append(await one_start("bench-slurm"))
        local.append(await one_start("bench-local"))
        print(
            f"start {i + 1}/{n}: slurm {slurm[-1][1]:.3f} s, local {local[-1][1]:.3f} s",
            file=sys.stderr,
        )
    slurm_p50 = statistics.median(s[1] for s in slurm)
    local_p50 = statistics.median(s[1] for s in local)
    print(f"\nkernel start to first kernel_info_reply, {n} starts each (seconds)\n")
    print("| target | p50 | min | max |\n|---|---|---|---|")
    print(row("slurm: sbatch to connection file back", [s[0] for s in slurm]))
    print(row("slurm: sbatch to kernel_info_reply", [s[1] for s in slurm]))
    print(row("local: start to kernel_info_reply", [s[1] for s in local]))
    print(f"\nslurm/local p50 ratio: {slurm_p50 / local_p50:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="starts per target (default 10)")
    parser.add_argument("--partition", default=None, help="Slurm partition (default: default)")
    args = parser.parse_args()
    ensure_cluster()
    with tempfile.TemporaryDirectory(prefix="adrastea-bench-") as tmp:
        write_kernelspecs(Path(tmp), args.partition)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [tmp, *filter(None, [os.environ.get("JUPYTER_PATH")])]
        )
        anyio.run(main, args.n, args.partition)
