"""Run ``adrastea serve`` as a real subprocess, for tests and benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

_URL = re.compile(r"(http://\S+):(\d+)/\?token=(\w+)")


class ServerProcess:
    """An ``adrastea serve`` child process on a free loopback port.

    ``start()`` returns once the server printed its URL; ``stop()`` sends
    SIGINT (a clean shutdown, kernels included) and kills it if it has not
    exited within ``grace`` seconds.  ``kill()`` is ``kill -9``.  Usable as a
    context manager.  Output is collected in ``output`` for assertions.
    """

    def __init__(
        self,
        root: Path,
        *extra_args: str,
        token: str = "test-token",
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.root = root
        self.token = token
        self.extra_args: Sequence[str] = extra_args
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout = startup_timeout
        self.url = ""
        self.port = 0
        self.output: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def ws_url(self, path: str) -> str:
        return "ws" + self.url.removeprefix("http") + path

    def start(self) -> ServerProcess:
        args = [
            sys.executable, "-m", "adrastea", "serve", str(self.root),
            "--port", "0", "--no-browser", "--token", self.token, *self.extra_args,
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._ready.wait(self.startup_timeout) or not self.url:
            self.kill()
            raise RuntimeError("adrastea serve did not start:\n" + "".join(self.output))
        return self

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.output.append(line)
            match = _URL.search(line)
            if match and not self._ready.is_set():
                self.url = f"{match.group(1)}:{match.group(2)}"
                self.port = int(match.group(2))
                self._ready.set()
        self._ready.set()

    def stop(self, grace: float = 15.0) -> int:
        """Ctrl-C the server and wait; returns its exit code."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(grace)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._close_pipe()
        return self._proc.returncode

    def _close_pipe(self) -> None:
        assert self._proc is not None
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def kill(self) -> None:
        """``kill -9`` the server (not its kernels, which run in their own sessions)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
            self._close_pipe()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
