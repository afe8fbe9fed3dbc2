"""The first thing a Slurm kernel job runs, on the compute node.

    python -I -S _slurm_launch.py [--ip ADDR|auto] [--route-to HOST] REQUEST OUT -- ARGV...

It reads REQUEST (the session key, signature scheme and transport chosen by
the server), picks five free TCP ports *on this node* (ports picked on the
submitting host may be taken here) -- on a restart the previous kernel's
ports if it ran at the same address and they are free again, so that clients
still connected to them just carry on -- writes the complete connection file to OUT
atomically (mode 0600; the server polls for it), then replaces itself with the
kernel (``exec ARGV``), so the job's processes are the kernel's and Slurm's
signals reach it.

``--ip auto`` is the address of the interface that routes to ``--route-to``
(the server's host), so the server can reach the kernel; without a route it
falls back to this host's name, then to loopback.

Standard library only, and run by file path rather than ``-m``: the node's
Python needs neither Adrastea's dependencies nor its package ``__init__``.
It runs before every Slurm kernel, so it starts lean: ``-S`` skips ``site``
(the ``.pth`` files of site-packages can cost tens of milliseconds) and it
imports only what it uses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def node_address(ip: str, route_to: str | None) -> str:
    """The address the kernel binds and the server connects to."""
    if ip != "auto":
        return ip
    if route_to:
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            # A UDP connect sends nothing; it only asks the kernel for the route.
            s.connect((socket.gethostbyname(route_to), 9))
            return str(s.getsockname()[0])
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return "127.0.0.1"


def free_ports(ip: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``ip`` (all held open at once, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind((ip, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def previous_ports(ip: str, previous: dict[str, Any] | None) -> list[int] | None:
    """The previous kernel's ports, if it was at ``ip`` and all of them are free now."""
    if not previous or previous.get("ip") != ip:
        return None
    try:
        ports = [int(previous[name]) for name in PORT_NAMES]
    except (KeyError, TypeError, ValueError):
        return None
    sockets = []
    try:
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            # As zmq binds: a port whose old connections linger in TIME_WAIT is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
    except OSError:
        return None
    finally:
        for s in sockets:
            s.close()
    return ports


def write_atomic(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` as JSON to ``path`` (mode 0600) so readers never see a partial file."""
    # A name of our own beside it (this node, this pid): no tempfile module to import.
    tmp = path.with_name(f".connection-{socket.gethostname()}-{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(info, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(args: list[str]) -> NoReturn:
    parser = argparse.ArgumentParser(prog="_slurm_launch")
    parser.add_argument("--ip", default="auto")
    parser.add_argument("--route-to", default=None)
    parser.add_argument("request", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("argv", nargs="+")
    ns = parser.parse_args(args)
    info = json.loads(ns.request.read_text())
    info["transport"] = "tcp"
    previous = info.pop("previous", None)
    info["ip"] = node_address(ns.ip, ns.route_to)
    ports = previous_ports(info["ip"], previous) or free_ports(info["ip"], len(PORT_NAMES))
    info.update(zip(PORT_NAMES, ports, strict=True))
    write_atomic(ns.out, info)
    sys.stdout.flush()
    os.execvp(ns.argv[0], ns.argv)


if __name__ == "__main__":
    main(sys.argv[1:])
