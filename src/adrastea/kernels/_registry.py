"""The registry of running kernels: start, adopt, list, interrupt, restart, shut down.

Kernels are local processes started through jupyter_client (any kernel spec,
any provisioner).  Each is started *independent* of the server -- its own
process session, no parent-pid watch -- and recorded in
``STATE_DIR/kernels/<id>.json``, so a server that crashes or is killed leaves
its kernels running and the next server on the same state folder re-adopts
them.  Only a clean exit of the registry (``__aexit__``) shuts kernels down.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import anyio
import anyio.to_thread
import zmq
import zmq.asyncio
from anyio.abc import TaskGroup
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory

from adrastea.config import KernelSettings
from adrastea.errors import (
    BadRequest,
    KernelError,
    KernelNotFound,
    KernelNotRunning,
    KernelStartFailed,
)
from adrastea.kernels._adopt import reattach
from adrastea.kernels._cull import cull_forever
from adrastea.kernels._environments import SPECS_FOLDER, Environment, materialize
from adrastea.kernels._kernel import Kernel
from adrastea.kernels._record import KernelRecord, RecordStore, provisioner_name, record_of
from adrastea.kernels._specs import KernelSpecCatalog
from adrastea.kernels.types import KernelEnvironment, KernelId, KernelModel

__all__ = ["KernelRegistry"]

log = logging.getLogger(__name__)

# How long a recorded kernel gets to answer kernel_info before it is given up.
_ADOPT_TIMEOUT = 5.0
# How often kernel processes are checked for unexpected death.
_LIVENESS_INTERVAL = 1.0
# zmq retries a refused connection every 100 ms by default, so a booting
# kernel would be seen up to 100 ms after it binds; a refused loopback connect
# is cheap enough to retry every 10 ms.
_RECONNECT_IVL_MS = 10


class KernelRegistry:
    """Every kernel this server manages, by id.

    Use as an async context manager: entering re-adopts recorded kernels and
    starts the background tasks (activity watchers, liveness monitor, culler);
    exiting shuts every kernel down.  Errors raised are domain errors
    (``KernelNotFound``, ``KernelSpecNotFound``, ``KernelStartFailed``,
    ``KernelError``).
    """

    def __init__(self, settings: KernelSettings, state_dir: Path, root: Path) -> None:
        self.settings = settings
        self.root = root.expanduser().resolve()
        self.state_dir = state_dir
        self.specs = KernelSpecCatalog(settings.default_kernel_name)
        # The kernelspecs written for environments: found when starting and,
        # before anything else, when re-adopting their kernels.
        kernel_dirs = self.specs.manager.kernel_dirs
        if str(state_dir / SPECS_FOLDER) not in kernel_dirs:
            kernel_dirs.append(str(state_dir / SPECS_FOLDER))
        self._store = RecordStore(state_dir / "kernels")
        self._kernels: dict[KernelId, Kernel] = {}
        self._started = datetime.now(UTC)
        self._context: zmq.asyncio.Context | None = None
        self._tg: TaskGroup | None = None
        self._closing = False

    # -- lifecycle of the registry -------------------------------------------------

    async def __aenter__(self) -> KernelRegistry:
        self._context = zmq.asyncio.Context()
        self._context.setsockopt(zmq.RECONNECT_IVL, _RECONNECT_IVL_MS)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self.adopt()
            self._spawn(self._monitor)
            self._spawn(self._warm_up)
            if self.settings.cull_idle_timeout > 0:
                self._spawn(cull_forever, self._kernels.values, self.shutdown, self.settings)
        except BaseException as exc:
            await self._close(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close(exc_type, exc, tb)

    async def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tg is not None and self._context is not None
        self._closing = True
        with anyio.CancelScope(shield=True):
            await self.shutdown_all()
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(exc_type, exc, tb)
        self._context.destroy(linger=0)

    # -- queries -------------------------------------------------------------------

    def get(self, kernel_id: str) -> Kernel:
        """The kernel with ``kernel_id``.  Raises KernelNotFound."""
        try:
            return self._kernels[KernelId(kernel_id)]
        except KeyError:
            raise KernelNotFound(f"no kernel with id {kernel_id!r}") from None

    def __contains__(self, kernel_id: object) -> bool:
        return kernel_id in self._kernels

    def list(self) -> list[KernelModel]:
        """Every kernel's model, oldest first."""
        return [kernel.model() for kernel in self._kernels.values()]

    def last_activity(self) -> datetime:
        """The latest activity of any kernel, or the registry's start time."""
        return max((k.last_activity for k in self._kernels.values()), default=self._started)

    def connection_count(self) -> int:
        """WebSocket clients attached to any kernel."""
        return sum(k.connections for k in self._kernels.values())

    # -- operations ------------------------------------------------------------------

    async def start(
        self,
        name: str | None = None,
        *,
        path: str | None = None,
        env: Mapping[str, str] | None = None,
        kernel_id: str | None = None,
        environment: KernelEnvironment | None = None,
    ) -> Kernel:
        """Start a kernel from spec ``name`` (default: the configured one).

        Returns as soon as the process is launched, like Jupyter Server; the
        model shows ``starting`` until the kernel first answers.  ``path`` is
        an API path (relative to the served root) whose folder becomes the
        kernel's working directory; ``env`` is added to the server's
        environment.  An existing ``kernel_id`` returns that kernel.
        ``environment`` is what the kernel's model reports as its place (see
        ``start_in``).

        Raises:
            BadRequest: ``kernel_id`` is not a UUID.
            KernelSpecNotFound: no such kernel spec.
            KernelStartFailed: the process could not be launched.
        """
        if kernel_id is not None and kernel_id in self._kernels:
            return self._kernels[KernelId(kernel_id)]
        name = name or self.settings.default_kernel_name
        spec = await self.specs.load(name)
        try:
            kid = KernelId(str(uuid.UUID(kernel_id)) if kernel_id else str(uuid.uuid4()))
        except ValueError:
            raise BadRequest(f"kernel id is not a UUID: {kernel_id!r}") from None
        cwd = self._cwd_for(path)
        launch_env = dict(env or {})
        manager = self._manager(kid, name)
        try:
            with self._output(kid) as out:
                await manager.start_kernel(
                    **self._launch_args(cwd, launch_env), stdout=out, stderr=subprocess.STDOUT
                )
        except Exception as exc:
            await anyio.to_thread.run_sync(self._store.remove, kid)
            raise KernelStartFailed(
                f"kernel {name!r} failed to start: {exc}", log_detail=repr(exc)
            ) from exc
        kernel = Kernel(
            kid,
            name,
            manager,
            cwd=cwd,
            started=datetime.now(UTC),
            provisioner_name=provisioner_name(spec.metadata),
            launch_env=launch_env,
            environment=environment,
        )
        if self._closing:  # shutdown_all has already run: do not leave this one behind
            with anyio.CancelScope(shield=True):
                await self._stop(kernel, now=True)
            raise KernelStartFailed("the server is shutting down")
        self._kernels[kid] = kernel
        await self._persist(kernel)
        await self._task_group.start(kernel.watch)
        self._spawn(self._settle, kernel)
        log.info("started kernel %s (%s) in %s", kid, name, cwd)
        return kernel

    async def start_in(
        self,
        environment: Environment,
        choices: Mapping[str, Any],
        *,
        path: str | None = None,
        env: Mapping[str, str] | None = None,
        kernel_id: str | None = None,
    ) -> Kernel:
        """Start a kernel in ``environment`` with ``choices`` resolved by it.

        The one way every door (kernels and sessions API, notebooks) starts a
        kernel in a place: a Slurm environment's kernelspec is written to the
        state folder first (``materialize``), then started like any other.
        The kernel's model names the environment and choices.  Raises what
        ``start`` raises.
        """
        base = await self.specs.load(environment.kernelspec)
        name = await anyio.to_thread.run_sync(
            materialize, environment, choices, base, self.state_dir
        )
        place = KernelEnvironment(name=environment.name, choices=dict(choices))
        return await self.start(name, path=path, env=env, kernel_id=kernel_id, environment=place)

    async def interrupt(self, kernel_id: str) -> None:
        """Interrupt the kernel (signal or interrupt_request, as its spec says).

        Raises KernelNotFound, or KernelNotRunning for a dead kernel.
        """
        kernel = self.get(kernel_id)
        if kernel.execution_state == "dead" or kernel.stopping.is_set():
            raise KernelNotRunning(f"kernel {kernel_id} is not running")
        try:
            await kernel.manager.interrupt_kernel()
        except Exception as exc:
            raise KernelError(f"cannot interrupt kernel {kernel_id}: {exc}") from exc

    async def restart(self, kernel_id: str) -> KernelModel:
        """Restart the kernel process on the same ports; returns once it answers.

        Attached clients stay connected (their sockets reconnect by themselves).

        Raises:
            KernelNotFound: no such kernel.
            KernelNotRunning: it is being shut down.
            KernelStartFailed: the new process did not come up.
        """
        kernel = self.get(kernel_id)
        async with kernel.lock:
            if kernel.stopping.is_set():
                raise KernelNotRunning(f"kernel {kernel_id} is shutting down")
            kernel.execution_state = "restarting"
            kernel.watching = anyio.Event()
            await self._relaunch(kernel, now=False)
        if not await self._wait_ready(kernel):
            if kernel.stopping.is_set():
                raise KernelNotRunning(f"kernel {kernel_id} was shut down while restarting")
            kernel.die("no reply to kernel_info after restart")
            raise KernelStartFailed(f"kernel {kernel_id} did not come back after restart")
        return kernel.model()

    async def shutdown(self, kernel_id: str, *, now: bool = False) -> None:
        """Shut the kernel down (politely, then by force) and forget it.

        It disappears from the registry at once; attached clients are
        disconnected.  Not cancellable half-way.  Raises KernelNotFound.
        """
        kernel = self.get(kernel_id)
        del self._kernels[kernel.id]
        with anyio.CancelScope(shield=True):
            await self._stop(kernel, now=now)

    async def shutdown_all(self) -> None:
        """Shut every kernel down, in parallel."""
        kernels = list(self._kernels.values())
        self._kernels.clear()
        async with anyio.create_task_group() as tg:
            for kernel in kernels:
                tg.start_soon(self._stop, kernel, False)

    async def adopt(self) -> builtins.list[KernelId]:
        """Re-attach to the recorded kernels that still answer; forget the others.

        Called on entry.  A recorded kernel is kept when its process is alive
        and it answers kernel_info within a few seconds; records of dead or
        silent kernels are removed (a silent process is left alone: it may be
        hung, or its pid may belong to someone else by now).
        """
        records = await anyio.to_thread.run_sync(self._store.read_all)
        adopted: builtins.list[KernelId] = []
        async with anyio.create_task_group() as tg:
            for record in records:
                if record.id not in self._kernels:
                    tg.start_soon(self._adopt_one, record, adopted)
        return adopted

    # -- internals -----------------------------------------------------------------

    @property
    def _task_group(self) -> TaskGroup:
        if self._tg is None:
            raise RuntimeError("KernelRegistry used outside 'async with'")
        return self._tg

    def _manager(self, kernel_id: KernelId, name: str) -> AsyncKernelManager:
        return AsyncKernelManager(
            kernel_name=name,
            kernel_id=kernel_id,
            kernel_spec_manager=self.specs.manager,
            context=self._context,
        )

    def _launch_args(self, cwd: str, launch_env: Mapping[str, str]) -> dict[str, Any]:
        env = {**os.environ, **launch_env}
        # A kernel watching our pid would exit with us: kernels must outlive a crash.
        env.pop("JPY_PARENT_PID", None)
        return {"independent": True, "cwd": cwd, "env": env, "stdin": subprocess.DEVNULL}

    @contextlib.contextmanager
    def _output(self, kernel_id: KernelId) -> Iterator[IO[bytes]]:
        # The kernel's stdout/stderr go to a file, not to our terminal or
        # pipe, which would vanish with us after a crash.
        self._store.folder.mkdir(parents=True, exist_ok=True)
        with self._store.log_path(kernel_id).open("ab") as out:
            yield out

    def _cwd_for(self, path: str | None) -> str:
        # Jupyter Server's cwd_for_path: the path's folder, or the nearest
        # existing one above it, never outside the root.
        if not path or "\0" in path:
            return str(self.root)
        candidate = (self.root / path.strip("/")).resolve()
        if not candidate.is_relative_to(self.root):
            return str(self.root)
        while not candidate.is_dir() and candidate != self.root:
            candidate = candidate.parent
        return str(candidate)

    async def _persist(self, kernel: Kernel) -> None:
        record = await record_of(kernel)
        await anyio.to_thread.run_sync(self._store.write, record)

    async def _relaunch(self, kernel: Kernel, *, now: bool) -> None:
        """Restart the process (caller holds ``kernel.lock``) and re-record it."""
        try:
            with self._output(kernel.id) as out:
                await kernel.manager.restart_kernel(now=now, stdout=out, stderr=subprocess.STDOUT)
        except Exception as exc:
            kernel.die(f"restart failed: {exc}")
            raise KernelStartFailed(
                f"kernel {kernel.id} failed to restart: {exc}", log_detail=repr(exc)
            ) from exc
        kernel.started = datetime.now(UTC)
        await self._persist(kernel)

    async def _wait_ready(self, kernel: Kernel) -> bool:
        """Wait until the kernel answers kernel_info; False on timeout, exit or shutdown."""
        answered = False
        async with anyio.create_task_group() as tg:

            async def ask() -> None:
                nonlocal answered
                answered = await kernel.until_ready(self.settings.startup_timeout)
                tg.cancel_scope.cancel()

            async def exited() -> None:
                # No exit event for a process that may not be our child: poll.
                while await kernel.manager.is_alive():  # noqa: ASYNC110
                    await anyio.sleep(0.2)
                tg.cancel_scope.cancel()

            async def stopped() -> None:
                await kernel.stopping.wait()
                tg.cancel_scope.cancel()

            for task in (ask, exited, stopped):
                tg.start_soon(task)
        if answered:
            kernel.settle()
        return answered

    async def _settle(self, kernel: Kernel) -> None:
        """After a start: wait for the first answer, or mark the kernel dead."""
        if await self._wait_ready(kernel) or kernel.stopping.is_set():
            return
        if await kernel.manager.is_alive():
            log.warning("kernel %s has not answered kernel_info yet", kernel.id)
        else:
            kernel.die(f"the kernel exited during start-up; see {self._store.log_path(kernel.id)}")

    def _spawn(self, func: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a background job in the registry's task group, logging its failure.

        The task group encloses the whole server's lifespan: an exception
        escaping a job would cancel it, so none may.
        """

        async def guarded() -> None:
            try:
                await func(*args)
            except Exception:
                log.exception("kernel registry job %s failed", getattr(func, "__name__", func))

        self._task_group.start_soon(guarded)

    async def _warm_up(self) -> None:
        # The first kernel spec lookup scans folders and entry points (a few
        # tenths of a second): pay it now rather than in the first start.
        await self.specs.all()
        await anyio.to_thread.run_sync(KernelProvisionerFactory.instance)

    async def _monitor(self) -> None:
        """Notice kernels that died on their own; restart those that once worked."""
        while True:
            await anyio.sleep(_LIVENESS_INTERVAL)
            for kernel in list(self._kernels.values()):
                if (
                    kernel.stopping.is_set()
                    or kernel.lock.locked()
                    or kernel.execution_state == "dead"
                ):
                    continue
                try:
                    alive = await kernel.manager.is_alive()
                except Exception:  # a provisioner that cannot tell right now
                    log.exception("cannot check whether kernel %s is alive", kernel.id)
                    continue
                if alive:
                    continue
                ended = kernel.end_reason()
                if ended is not None:
                    # Its Slurm job is over (TIMEOUT, CANCELLED, ...): a new
                    # job would queue and start from scratch, so the kernel
                    # is dead until someone restarts it on purpose.
                    kernel.die(ended)
                elif kernel.answered:
                    self._spawn(self._auto_restart, kernel)
                else:
                    kernel.die("the kernel exited before it ever answered")

    async def _auto_restart(self, kernel: Kernel) -> None:
        async with kernel.lock:
            if kernel.stopping.is_set() or await kernel.manager.is_alive():
                return
            log.warning("kernel %s (%s) died; restarting it", kernel.id, kernel.name)
            kernel.execution_state = "restarting"
            kernel.watching = anyio.Event()
            kernel.notify("restarting")
            try:
                await self._relaunch(kernel, now=True)
            except KernelStartFailed:
                log.exception("automatic restart of kernel %s failed", kernel.id)
                return
        if not await self._wait_ready(kernel) and not kernel.stopping.is_set():
            kernel.die("the kernel died and did not come back after a restart")

    async def _stop(self, kernel: Kernel, now: bool) -> None:
        kernel.stopping.set()
        kernel.notify("closed")
        kernel.stop_watching()
        async with kernel.lock:
            try:
                await kernel.manager.shutdown_kernel(now=now)
            except Exception:
                log.exception("shutting down kernel %s failed; killing it", kernel.id)
                with contextlib.suppress(Exception):
                    await kernel.manager.shutdown_kernel(now=True)
        kernel.execution_state = "dead"
        kernel.closed.set()
        await anyio.to_thread.run_sync(self._store.remove, kernel.id)
        log.info("shut down kernel %s", kernel.id)

    async def _adopt_one(self, record: KernelRecord, adopted: builtins.list[KernelId]) -> None:
        try:
            spec = await self.specs.load(record.kernel_name)
            kernel = await reattach(
                record,
                self._manager(record.id, record.kernel_name),
                spec,
                self._launch_args(record.cwd, record.launch_env),
                _ADOPT_TIMEOUT,
            )
        except Exception:
            log.exception("cannot re-adopt kernel %s", record.id)
            kernel = None
        if kernel is None:
            await anyio.to_thread.run_sync(self._store.remove, record.id)
            return
        self._kernels[kernel.id] = kernel
        await self._task_group.start(kernel.watch)
        adopted.append(kernel.id)
        log.info("re-adopted kernel %s (%s)", kernel.id, kernel.name)
