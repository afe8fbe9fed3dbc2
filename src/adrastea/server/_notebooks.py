"""Open notebooks: the server owns each one's live document, kernel and run queue.

A notebook is opened when a client connects to its document, asks to run
it, or GETs/PUTs it while a kernel is bound.  Each open notebook has:

- a ``LiveNotebook`` (the Y document, journaled and autosaved),
- a ``YRoom`` that keeps any number of browsers in sync with it,
- once something runs, a kernel from the registry (started in the notebook's
  environment) and a ``NotebookEngine`` writing outputs into the document
  whether or not anybody watches.

Which kernel serves which notebook, and which cell is running with which
request id, is persisted in ``state_dir/notebooks.json`` so that a restarted
server re-attaches adopted kernels to their notebooks and keeps filling the
running cell's outputs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from adrastea.config import Settings
from adrastea.contents import ContentsManager
from adrastea.documents import (
    LiveNotebook,
    atomic_write,
    compile_validators,
    document_dir,
    ymeta,
)
from adrastea.errors import AdrasteaError, BadRequest, Conflict, KernelError, KernelNotFound
from adrastea.execution import CellResult, NotebookEngine, start_client
from adrastea.execution._document_sink import DocumentSink
from adrastea.kernels import KernelRegistry
from adrastea.kernels._environments import Environment, EnvironmentCatalog
from adrastea.server._yroom import YRoom

log = logging.getLogger(__name__)

_BINDINGS = "notebooks.json"
# Which cell runs is recorded this long after it changes, once for all changes meanwhile.
_PERSIST_DELAY = 0.05


class RegistryConnection:
    """The engine's ``KernelConnection`` to a kernel held by the registry."""

    def __init__(self, registry: KernelRegistry, kernel_id: str, startup_timeout: float) -> None:
        self.registry = registry
        self.kernel_id = kernel_id
        self.startup_timeout = startup_timeout

    def client(self) -> Any:
        return start_client(self.registry.get(self.kernel_id).manager)

    async def wait_ready(self) -> None:
        kernel = self.registry.get(self.kernel_id)
        # A kernel in a pending Slurm job may take long: wait as long as it is
        # neither answering nor dead.
        while not kernel.answered:
            if kernel.execution_state == "dead":
                raise KernelError(f"the kernel did not start: {kernel.reason or 'it died'}")
            await kernel.until_ready(min(self.startup_timeout, 5.0))

    async def death_reason(self) -> str | None:
        try:
            kernel = self.registry.get(self.kernel_id)
        except KernelNotFound:
            return "the kernel was shut down"
        if kernel.execution_state == "dead":
            return kernel.reason or "the kernel died"
        if kernel.lock.locked():
            return None  # restarting right now
        if not await kernel.manager.is_alive():
            # A Slurm job's end (TIMEOUT, ...) says more than "exited".
            return kernel.end_reason() or kernel.reason or "the kernel process exited"
        return None

    async def interrupt(self) -> None:
        await self.registry.interrupt(self.kernel_id)

    async def restart(self) -> None:
        await self.registry.restart(self.kernel_id)


@dataclass
class OpenNotebook:
    """One notebook the server holds open."""

    path: str
    live: LiveNotebook
    room: YRoom
    sink: DocumentSink
    scope: anyio.CancelScope
    kernel_id: str | None = None
    environment: dict[str, Any] | None = None
    engine: NotebookEngine | None = None
    engine_scope: anyio.CancelScope | None = None
    running: dict[str, str | None] | None = None
    lock: anyio.Lock = field(default_factory=lambda: anyio.Lock(fast_acquire=True))


class NotebookService:
    """Opens notebooks, binds kernels to them and runs their cells."""

    def __init__(
        self,
        settings: Settings,
        contents: ContentsManager,
        kernels: KernelRegistry,
        environments: EnvironmentCatalog,
        state_dir: Path,
    ) -> None:
        self.settings = settings
        self.contents = contents
        self.kernels = kernels
        self.environments = environments
        self.state_dir = state_dir
        self._open: dict[str, OpenNotebook] = {}
        # fast_acquire: taking a free lock does not yield to the loop (each pass of
        # the loop adds to every request that opens or runs something).
        self._opening = anyio.Lock(fast_acquire=True)
        self._persisting = threading.Lock()
        self._snapshots = self._written = 0
        self._persist_pending = False
        self._tg: TaskGroup | None = None

    # -- lifecycle -------------------------------------------------------------

    async def __aenter__(self) -> NotebookService:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        # Paid now, while the server is idle, rather than by the first notebook opened.
        self._tg.start_soon(anyio.to_thread.run_sync, compile_validators)
        await self._readopt()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            for nb in list(self._open.values()):
                await self._close(nb, save=True)
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(exc_type, exc, tb)

    @property
    def _task_group(self) -> TaskGroup:
        assert self._tg is not None, "use NotebookService as an async context manager"
        return self._tg

    # -- opening ---------------------------------------------------------------

    def find(self, path: str) -> OpenNotebook | None:
        """The open notebook at API ``path``, if it is open."""
        try:
            api, _ = self.contents.locate(path)
        except Exception:
            return None
        return self._open.get(api)

    async def open(self, path: str) -> OpenNotebook:
        """Open (or return the already open) notebook at API ``path``.

        Raises ``InvalidPath``/``FileNotFound`` like the contents API,
        ``InvalidNotebook`` for a file that is not a notebook.
        """
        api, real = self.contents.locate(path)
        if not api.endswith(".ipynb"):
            raise BadRequest(f"not a notebook: {api}")
        async with self._opening:
            nb = self._open.get(api)
            if nb is not None:
                return nb
            live = await LiveNotebook.load(
                real,
                work_dir=document_dir(self.state_dir / "documents", real),
                settings=self.settings.documents,
                defer_journal=True,  # run() below writes it; clients need not wait
            )
            scope = anyio.CancelScope()
            room = YRoom(live.ydoc, live)
            nb = OpenNotebook(api, live, room, DocumentSink(live), scope)
            await self._task_group.start(self._run_document, nb)
            self._open[api] = nb
            return nb

    async def _run_document(
        self, nb: OpenNotebook, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        with nb.scope:
            async with anyio.create_task_group() as tg:
                await tg.start(nb.live.run)
                task_status.started()
                await anyio.sleep_forever()

    async def close(self, path: str, *, save: bool = True) -> None:
        """Close an open notebook (shutting its kernel down); a no-op if not open."""
        nb = self.find(path)
        if nb is not None:
            await self._close(nb, save=save)

    async def _close(self, nb: OpenNotebook, *, save: bool) -> None:
        self._open.pop(nb.path, None)
        await self._stop_engine(nb)
        if nb.kernel_id is not None:
            with contextlib.suppress(KernelNotFound):
                await self.kernels.shutdown(nb.kernel_id)
            nb.kernel_id = None
        nb.room.close()
        nb.scope.cancel()
        await nb.live.aclose(save=save)
        await self._persist()

    # -- kernels and engines ---------------------------------------------------

    def _environment_for(self, nb: OpenNotebook) -> tuple[Environment, dict[str, Any]]:
        meta: Any = ymeta(nb.live.notebook).get("metadata")
        metadata: dict[str, Any] = meta.to_py() if hasattr(meta, "to_py") else dict(meta or {})
        chosen = (metadata.get("adrastea") or {}).get("environment") or {}
        if chosen.get("name"):
            env = self.environments.get(chosen["name"])
            return env, env.resolve(chosen.get("choices") or {})
        kernel_name = (metadata.get("kernelspec") or {}).get("name")
        kernel_name = kernel_name or self.settings.kernels.default_kernel_name
        for env in self.environments.all():
            if env.kernelspec == kernel_name and env.placement == "local":
                return env, {}
        return Environment(kernel_name, kernel_name, kernel_name, "local", None), {}

    async def _ensure_engine(self, nb: OpenNotebook) -> NotebookEngine:
        if nb.engine is not None:
            return nb.engine
        if nb.kernel_id is None:
            env, resolved = self._environment_for(nb)
            await self._start_kernel(nb, env, resolved)
        await self._start_engine(nb)
        assert nb.engine is not None
        return nb.engine

    async def _start_kernel(
        self, nb: OpenNotebook, env: Environment, resolved: dict[str, Any]
    ) -> None:
        kernel = await self.kernels.start_in(env, resolved, path=nb.path)
        nb.kernel_id = kernel.id
        nb.environment = {"name": env.name, "choices": resolved}
        if env.placement == "slurm":
            self._task_group.start_soon(self._watch_walltime, nb, kernel.id)

    async def set_environment(
        self, path: str, environment: str, choices: dict[str, Any]
    ) -> dict[str, Any]:
        """Move the notebook's kernel to ``environment`` ("Restart in …").

        The choices are checked first (``InvalidChoice`` names the field);
        then the old kernel is shut down and a new one started in the new
        place.  The notebook remembers the environment in its metadata, and
        its ``kernelspec`` (so every client, and Jupyter, sees the new
        language).
        """
        env, resolved = self.environments.choose(environment, choices)
        spec = await self.kernels.specs.load(env.kernelspec)
        nb = await self.open(path)
        async with nb.lock:
            await self._stop_engine(nb)
            if nb.kernel_id is not None:
                with contextlib.suppress(KernelNotFound):
                    await self.kernels.shutdown(nb.kernel_id)
                nb.kernel_id = None
            _remember_environment(nb.live, env.name, dict(choices))
            _remember_kernelspec(nb.live, env.kernelspec, spec.display_name, spec.language)
            await self._start_kernel(nb, env, resolved)
            await self._start_engine(nb)
        return await self.status(path)

    async def _watch_walltime(self, nb: OpenNotebook, kernel_id: str) -> None:
        """Warn the notebook's clients before its Slurm job's time runs out, and save."""
        thresholds = sorted(self.settings.slurm.walltime_warnings, reverse=True)
        warned: set[int] = set()
        while nb.kernel_id == kernel_id and nb.path in self._open:
            info = await _job_info(self.kernels, kernel_id)
            if info is not None and info.time_left is not None:
                left = info.time_left.total_seconds()
                due = [t for t in thresholds if left <= t and t not in warned]
                if due:
                    warned.update(due)
                    minutes = max(1, round(left / 60))
                    _post_warning(
                        nb.live,
                        f"The Slurm job {info.job_id} of this kernel ends in about "
                        f"{minutes} min (walltime); save your work.",
                    )
                    with contextlib.suppress(AdrasteaError):
                        await nb.live.save()
            await anyio.sleep(self.settings.slurm.poll_interval * 5)

    async def _start_engine(self, nb: OpenNotebook) -> None:
        assert nb.kernel_id is not None
        connection = RegistryConnection(
            self.kernels, nb.kernel_id, self.settings.kernels.startup_timeout
        )

        def sent(cell_id: str, msg_id: str) -> None:
            since = engine.status().running_since
            nb.running = {"cell_id": cell_id, "msg_id": msg_id, "since": _iso(since)}
            self._persist_soon()

        async def done(cell_id: str, result: CellResult) -> None:
            nb.running = None
            self._persist_soon()

        engine = NotebookEngine(
            connection,
            nb.sink,
            coalesce_interval=0.0,  # the document's OutputWriter coalesces
            stdin_timeout=self.settings.documents.stdin_timeout,
            on_cell_done=done,
            on_cell_sent=sent,
        )
        scope = anyio.CancelScope()

        async def serve(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            with scope:
                await engine.serve(task_status=task_status)

        await self._task_group.start(serve)
        nb.engine, nb.engine_scope = engine, scope
        await self._persist()

    async def _stop_engine(self, nb: OpenNotebook) -> None:
        if nb.engine is not None:
            nb.engine.clear_queue()
        if nb.engine_scope is not None:
            nb.engine_scope.cancel()
        nb.engine = nb.engine_scope = None
        nb.running = None

    # -- operations ------------------------------------------------------------

    async def execute(
        self,
        path: str,
        cells: list[str] | str,
        environment: str | None = None,
        choices: dict[str, Any] | None = None,
    ) -> list[str]:
        """Queue cells (ids, or ``"all"``); returns the ids queued, at once.

        With ``environment``, the cells run there: if the notebook's kernel
        runs elsewhere (or with other choices), it is moved first, as by
        :meth:`set_environment`.  Unknown cells and bad choices are refused
        before anything changes.

        Raises ``BadRequest`` naming unknown cell ids, ``InvalidChoice``.
        """
        nb = await self.open(path)
        ids = nb.sink.cell_ids()
        wanted = ids if cells == "all" else list(cells)
        unknown = [c for c in wanted if c not in ids]
        if unknown:
            raise BadRequest(f"no such cells: {', '.join(map(str, unknown))}")
        if environment is not None:
            env, resolved = self.environments.choose(environment, choices or {})
            here = nb.kernel_id is not None and nb.environment == {
                "name": env.name,
                "choices": resolved,
            }
            if not here:
                await self.set_environment(path, environment, choices or {})
        async with nb.lock:
            engine = await self._ensure_engine(nb)
        return engine.enqueue(wanted)

    async def interrupt(self, path: str) -> None:
        nb = await self.open(path)
        if nb.engine is None:
            raise Conflict(f"no kernel is running for {nb.path}")
        await nb.engine.interrupt()

    async def restart(self, path: str) -> None:
        nb = await self.open(path)
        async with nb.lock:
            if nb.engine is None:
                raise Conflict(f"no kernel is running for {nb.path}")
            await nb.engine.restart()

    async def clear_queue(self, path: str) -> list[str]:
        nb = await self.open(path)
        return nb.engine.clear_queue() if nb.engine is not None else []

    async def answer_input(self, path: str, value: str) -> None:
        nb = await self.open(path)
        if nb.engine is None or not nb.engine.answer_input(value):
            raise Conflict("no input() is waiting for an answer")

    async def shutdown_kernel(self, path: str) -> None:
        nb = await self.open(path)
        async with nb.lock:
            await self._stop_engine(nb)
            if nb.kernel_id is not None:
                with contextlib.suppress(KernelNotFound):
                    await self.kernels.shutdown(nb.kernel_id)
                nb.kernel_id = None
            await self._persist()

    async def status(self, path: str) -> dict[str, Any]:
        """Kernel state, environment, queue, running cell, last error, input prompt."""
        nb = await self.open(path)
        kernel: dict[str, Any] | None = None
        if nb.kernel_id is not None:
            try:
                kernel = self.kernels.get(nb.kernel_id).model().model_dump(mode="json")
            except KernelNotFound:
                kernel = {"id": nb.kernel_id, "execution_state": "dead"}
        engine = nb.engine.status() if nb.engine is not None else None
        conflict = nb.live.conflict
        job = await _job_info(self.kernels, nb.kernel_id) if nb.kernel_id else None
        return {
            "job": _job_model(job),
            "path": nb.path,
            "session_id": nb.live.session_id,
            "kernel": kernel,
            "environment": nb.environment,
            "running": engine.running if engine else None,
            "running_since": _iso(engine.running_since) if engine else None,
            "queue": engine.queue if engine else [],
            "last_error": engine.last_error if engine else None,
            "executed": engine.executed if engine else 0,
            "pending_input": engine.pending_input if engine else None,
            "dirty": nb.live.dirty,
            "conflict": conflict.detail if conflict is not None else None,
            "clients": len(nb.room.clients),
        }

    # -- persistence of bindings ----------------------------------------------

    def _persist_soon(self) -> None:
        """Record which cell runs within ``_PERSIST_DELAY``: one write, in a thread, no fsync.

        It changes twice per cell: quick cells would otherwise cost two file
        replacements each (a millisecond of the loop's time apiece here).  A
        killed server finds the state of 50 ms before; a power cut may lose a
        little more.  Either only costs re-attaching to the cell then running.
        """
        if not self._persist_pending:
            self._persist_pending = True
            self._task_group.start_soon(self._persist_later)

    async def _persist_later(self) -> None:
        await anyio.sleep(_PERSIST_DELAY)
        self._persist_pending = False
        await self._persist(durable=False)

    async def _persist(self, *, durable: bool = True) -> None:
        """Write the notebook-kernel bindings (``notebooks.json``) durably, in a thread."""
        snapshot = self._snapshot()
        await anyio.to_thread.run_sync(partial(self._write_bindings, snapshot, durable=durable))

    def _snapshot(self) -> tuple[int, bytes]:
        """The bindings now, numbered (taken on the loop, which owns the notebooks)."""
        self._snapshots += 1
        return self._snapshots, json.dumps(self._bindings(), indent=1).encode()

    def _write_bindings(self, snapshot: tuple[int, bytes], *, durable: bool) -> None:
        # From the loop or a worker thread: an older snapshot never replaces a
        # newer one (which holds every binding change the older one had).
        number, payload = snapshot
        with self._persisting:
            if number > self._written:
                atomic_write(self.state_dir / _BINDINGS, payload, durable=durable)
                self._written = number

    def _bindings(self) -> dict[str, Any]:
        return {
            nb.path: {
                "kernel_id": nb.kernel_id,
                "environment": nb.environment,
                "running": nb.running,
                "queue": nb.engine.status().queue if nb.engine else [],
            }
            for nb in self._open.values()
            if nb.kernel_id is not None
        }

    async def _readopt(self) -> None:
        """Re-attach kernels adopted by the registry to their notebooks."""
        path = self.state_dir / _BINDINGS
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        for api, binding in data.items():
            kernel_id = binding.get("kernel_id")
            if not kernel_id or kernel_id not in self.kernels:
                continue
            try:
                nb = await self.open(api)
            except Exception:
                log.exception("cannot reopen %s to re-attach its kernel", api)
                continue
            nb.kernel_id = kernel_id
            nb.environment = binding.get("environment")
            await self._start_engine(nb)
            if self.kernels.get(kernel_id).job_id is not None:
                self._task_group.start_soon(self._watch_walltime, nb, kernel_id)
            running = binding.get("running")
            queue = [c for c in binding.get("queue", []) if c in nb.sink.cell_ids()]
            if running and running.get("cell_id") in nb.sink.cell_ids():
                stamp = datetime.now(UTC).strftime("%H:%M:%S UTC")
                nb.sink.append_stream(
                    running["cell_id"],
                    "stderr",
                    f"\n[Adrastea: the server restarted; output this cell printed while "
                    f"it was down (until {stamp}) is missing here]\n",
                )
                nb.running = running
                assert nb.engine is not None
                nb.engine.resume(
                    running["cell_id"],
                    running["msg_id"],
                    queue,
                    since=_parse_iso(running.get("since")),
                )
            log.info("re-attached kernel %s to %s", kernel_id, api)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _parse_iso(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


async def _job_info(kernels: KernelRegistry, kernel_id: str) -> Any:
    """Slurm's view of the kernel's job, or None for a kernel not in Slurm."""
    try:
        provisioner = kernels.get(kernel_id).manager.provisioner
    except KernelNotFound:
        return None
    job_info = getattr(provisioner, "job_info", None)
    if job_info is None:
        return None
    with contextlib.suppress(AdrasteaError):
        return await job_info()
    return None


def _job_model(info: Any) -> dict[str, Any] | None:
    if info is None:
        return None

    def seconds(value: Any) -> float | None:
        return value.total_seconds() if value is not None else None

    return {
        "job_id": str(info.job_id),
        "state": info.state.value,
        "reason": info.reason,
        "node": info.nodes,
        "elapsed": seconds(info.elapsed),
        "time_left": seconds(info.time_left),
        "time_limit": seconds(info.time_limit),
    }


def _notebook_metadata(live: LiveNotebook) -> Any:
    return ymeta(live.notebook).get("metadata")


def _remember_environment(live: LiveNotebook, name: str, choices: dict[str, Any]) -> None:
    metadata = _notebook_metadata(live)
    current = metadata.get("adrastea") if metadata is not None else None
    section = dict(current) if isinstance(current, dict) else {}
    section["environment"] = {"name": name, "choices": choices}
    if metadata is not None:
        metadata["adrastea"] = section


def _remember_kernelspec(live: LiveNotebook, name: str, display_name: str, language: str) -> None:
    metadata = _notebook_metadata(live)
    if metadata is None:
        return
    metadata["kernelspec"] = {"name": name, "display_name": display_name, "language": language}
    info = metadata.get("language_info")
    # The old kernel's language_info describes another language: keep only what is known.
    if not isinstance(info, dict) or info.get("name") != language:
        metadata["language_info"] = {"name": language}


def _post_warning(live: LiveNotebook, text: str) -> None:
    """A notice every connected client shows (the document's transient state)."""
    live.notebook.ystate["warning"] = {"text": text, "at": datetime.now(UTC).isoformat()}
