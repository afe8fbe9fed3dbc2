"""A jupyter_client kernel provisioner that runs the kernel as a Slurm batch job.

Registered as ``adrastea-slurm`` (entry-point group
``jupyter_client.kernel_provisioners``), so any kernelspec can use it, in
Adrastea or in plain Jupyter::

    "metadata": {"kernel_provisioner": {"provisioner_name": "adrastea-slurm",
                                        "config": {"partition": "debug", "time": 60}}}

Life of a kernel (see ``SlurmKernelConfig`` for the options):

* ``pre_launch`` makes the job folder (``_slurm_files``) and the kernel's argv.
* ``launch_kernel`` writes the batch script and submits it with ``sbatch``,
  then waits -- as long as the job is queued, or until ``pending_timeout`` --
  for the job to write its connection file back: the node picks its own ports
  (``_slurm_launch``).  It returns that connection info, which the kernel
  manager adopts.  Meanwhile ``job_id`` and ``job_info()`` show the job and
  why it is pending; ``cancel()`` (or cancelling the starting task, or
  ``shutdown_kernel``) withdraws it.  A job that ends before the kernel
  starts raises ``KernelStartFailed`` with Slurm's state and the log's tail.
* ``poll``/``wait`` follow the job with ``squeue`` (never the heartbeat: a
  queued kernel has none): alive while pending or running, then the exit
  status, ``-SIGNAL`` when Slurm killed it.  How it ended (TIMEOUT,
  CANCELLED, OUT_OF_MEMORY, NODE_FAIL, FAILED with exit code) is logged,
  kept in ``ended`` and told by ``end_reason()``.
* ``send_signal(SIGINT)`` is ``scancel --signal=INT --full``; ``kill`` and
  ``terminate`` are ``scancel`` (Slurm sends SIGTERM, then SIGKILL after
  KillWait).
* ``cleanup`` cancels a job still running, deletes the script and the
  connection files (they hold the session key) and, by default, keeps the
  stdout/stderr logs only of jobs that ended abnormally (``keep_logs``).
* ``get_provisioner_info``/``load_provisioner_info`` carry the job id, folder
  and connection info (JSON-safe) so another process can re-adopt the kernel:
  create the provisioner through the factory, load the info, set it as the
  manager's ``provisioner`` and ``load_connection_info(connection_info)``.

The kernel's stdout/stderr go to the job's log files, not to the ``stdout``
the kernel manager may pass in.  The jobs folder must be on a file system the
compute nodes share with this host.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, cast

import anyio
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from jupyter_core.paths import jupyter_runtime_dir

from adrastea.errors import KernelStartFailed, SlurmError
from adrastea.kernels._slurm_config import SlurmKernelConfig
from adrastea.kernels._slurm_files import JobFolder
from adrastea.kernels._slurm_script import job_name, kernel_argv, render_script
from adrastea.slurm import JobId, JobInfo, JobState, default_watcher, sbatch, scancel

__all__ = ["SlurmProvisioner"]

log = logging.getLogger(__name__)

# While the job runs, the connection file is due any moment: look often (a stat).
_FILE_CHECK = 0.02
# Just after sbatch, on an idle node, the job starts within a second -- before
# the cached state says RUNNING: look often that long whatever it says.
_QUICK_START = 3.0
# After we asked the kernel to go, look at the queue this often.
_HURRY = 0.1
_HURRY_FOR = 30.0
# Run by path on the node: see _slurm_launch's docstring.
_LAUNCHER = Path(__file__).resolve().with_name("_slurm_launch.py")


class SlurmProvisioner(KernelProvisionerBase):
    """Runs a kernelspec's kernel in a Slurm batch job; see the module docstring."""

    def __init__(
        self,
        *,
        kernel_id: str | None = None,
        kernel_spec: Any = None,
        parent: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(kernel_id=kernel_id, kernel_spec=kernel_spec, parent=parent)
        self.options = SlurmKernelConfig.from_options(options)
        self.job_id: JobId | None = None
        self.folder: JobFolder | None = None
        #: The job's final state, once it ended.
        self.ended: JobInfo | None = None
        self._last: JobInfo | None = None
        self._reaped = False
        self._cancelled = False  # by us: kill, terminate, cancel, shutdown
        self._hurry_until = 0.0
        self._cwd: str | None = None

    # -- what the kernel manager asks ----------------------------------------------

    @property
    def has_process(self) -> bool:
        return self.job_id is not None and not self._reaped

    async def poll(self) -> int | None:
        """None while the job is pending or running, else its exit status.

        If Slurm cannot be asked (controller down), the last known answer
        stands: jobs outlive a controller restart.
        """
        if self.job_id is None:
            return 0
        if self.ended is None:
            info = await self._state()
            if info is not None and not info.is_finished:
                return None
            self._note_end(info)
        return _exit_status(self.ended)

    async def wait(self) -> int | None:
        """Wait until the job has left the queue; its exit status."""
        # Slurm has no exit event to wait on: poll (the watcher coalesces squeue).
        while (status := await self.poll()) is None:  # noqa: ASYNC110
            await anyio.sleep(_HURRY)
        self._reaped = True
        return status

    async def send_signal(self, signum: int) -> None:
        """Signal the kernel: every process of the job (``scancel --full``).

        SIGKILL and SIGTERM cancel the job.  Other signals to a job that is not
        running (still queued, already ending) are dropped: there is no
        process to receive them.
        """
        if self.job_id is None or signum == 0:
            return
        if signum in (signal.SIGKILL, signal.SIGTERM):
            await self.cancel()
            return
        info = await self._state()
        if info is None or info.state is not JobState.RUNNING:
            log.debug("not sending signal %d to Slurm job %s: not running", signum, self.job_id)
            return
        name = signal.Signals(signum).name.removeprefix("SIG")
        try:
            await scancel(self.job_id, signal=name, full=True)
        except SlurmError as exc:
            # "Job can not be altered now": it is just starting or ending.
            log.warning("signal %s to Slurm job %s failed: %s", name, self.job_id, exc.detail)

    async def kill(self, restart: bool = False) -> None:
        await self.cancel()

    async def terminate(self, restart: bool = False) -> None:
        await self.cancel()

    async def shutdown_requested(self, restart: bool = False) -> None:
        # The kernel will exit on its own; notice the job's end promptly.
        self._hurry_until = anyio.current_time() + _HURRY_FOR

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Make the job folder and the kernel's argv (with the node-side connection file)."""
        km = self.parent
        if km is not None and getattr(km, "transport", "tcp") != "tcp":
            raise KernelStartFailed("Slurm kernels need the tcp transport")
        jobs_dir = self.options.jobs_dir or Path(jupyter_runtime_dir()) / "slurm"
        self.folder = JobFolder(jobs_dir.expanduser().absolute() / str(self.kernel_id))
        try:
            await anyio.to_thread.run_sync(self.folder.create)
        except OSError as exc:
            raise KernelStartFailed(
                f"cannot create the job folder {self.folder.path}: {exc}"
            ) from exc
        extra = kwargs.pop("extra_arguments", None) or []
        cmd = kernel_argv(
            [*self.kernel_spec.argv, *extra],
            connection_file=self.folder.connection_file,
            resource_dir=getattr(self.kernel_spec, "resource_dir", None),
        )
        result: dict[str, Any] = await super().pre_launch(cmd=cmd, **kwargs)
        return result

    def _finalize_env(self, env: dict[str, str]) -> None:
        super()._finalize_env(env)
        # ipykernel exits when its parent is not this pid; in a job it never is.
        env.pop("JPY_PARENT_PID", None)
        # Variables of an allocation we may run in would leak into the new job's
        # options (sbatch reads some SLURM_*); Slurm sets the job's own.
        for key in [k for k in env if k.startswith("SLURM_") and k != "SLURM_CONF"]:
            del env[key]

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Submit the job and wait until its kernel has written its connection info.

        Raises:
            KernelStartFailed: sbatch refused the job, the job ended before the
                kernel started, it was cancelled, or it stayed pending longer
                than ``pending_timeout`` (then it is cancelled).
        """
        assert self.folder is not None, "pre_launch comes first"
        folder = self.folder
        env: dict[str, str] = dict(kwargs.get("env") or os.environ)
        self._cwd = str(kwargs.get("cwd") or Path.cwd())
        await anyio.to_thread.run_sync(folder.write_request, self._request())
        script = render_script(
            self.options,
            name=job_name(self.options, self._kernel_name()),
            kernel_id=str(self.kernel_id),
            launcher=self._launcher(),
            kernel=cmd,
            env={k: env[k] for k in (self.kernel_spec.env or {}) if k in env},
        )
        await anyio.to_thread.run_sync(folder.write_script, script)
        options = [
            f"--output={folder.log_pattern('out')}",
            f"--error={folder.log_pattern('err')}",
            f"--chdir={self._cwd}",
        ]
        try:
            job_id = await sbatch(folder.script, options=options, env=env, cwd=self._cwd)
        except SlurmError as exc:
            raise KernelStartFailed(
                f"Slurm refused the kernel job: {exc.detail}", log_detail=exc.log_detail
            ) from exc
        self.job_id, self.ended, self._last = job_id, None, None
        self._reaped = self._cancelled = False
        log.info("kernel %s: submitted Slurm job %s", self.kernel_id, job_id)
        try:
            info = await self._until_connected(job_id, folder)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.cancel()
            raise
        self.connection_info = info
        return info

    async def cleanup(self, restart: bool = False) -> None:
        """Cancel a job still running, delete its files, keep logs as configured."""
        if self.job_id is not None and self.ended is None:
            info = await self._state()
            if info is not None and not info.is_finished:
                await self.cancel()
        folder, job_id = self.folder, self.job_id
        if folder is None:
            return
        keep = self.options.keep_logs == "always" or (
            self.options.keep_logs == "failed" and not self._ended_normally()
        )

        def remove() -> None:
            folder.remove_launch_files()
            if job_id is not None and not keep:
                folder.remove_logs(job_id)
            if not restart:
                folder.remove_if_empty()

        await anyio.to_thread.run_sync(remove)
        if job_id is not None:
            default_watcher().forget(job_id)

    async def get_provisioner_info(self) -> dict[str, Any]:
        """The job id, folder and connection info (key as text), for re-adoption."""
        info: dict[str, Any] = await super().get_provisioner_info()
        connection = dict(info.get("connection_info") or {})
        if isinstance(connection.get("key"), bytes):
            connection["key"] = connection["key"].decode()
        info.update(
            connection_info=connection,
            job_id=self.job_id,
            folder=str(self.folder.path) if self.folder else None,
            cwd=self._cwd,
        )
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        """Take over the job recorded by ``get_provisioner_info``."""
        await super().load_provisioner_info(provisioner_info)
        connection: dict[str, Any] = dict(self.connection_info)
        if isinstance(connection.get("key"), str):
            connection["key"] = connection["key"].encode()
        self.connection_info = cast(KernelConnectionInfo, connection)
        job_id = provisioner_info.get("job_id")
        self.job_id = JobId(str(job_id)) if job_id else None
        folder = provisioner_info.get("folder")
        self.folder = JobFolder(Path(folder)) if folder else None
        self._cwd = provisioner_info.get("cwd")
        self._reaped = False

    def resolve_path(self, path: str) -> str | None:
        """``path`` against the kernel's working folder (the file system is shared)."""
        resolved = Path(path).expanduser()
        if not resolved.is_absolute() and self._cwd:
            resolved = Path(self._cwd) / resolved
        return str(resolved.resolve()) if resolved.exists() else None

    # -- Slurm-specific --------------------------------------------------------------

    async def job_info(self) -> JobInfo | None:
        """The job as Slurm describes it now: state, pending reason, node, times.

        None before submission, or if Slurm has no record of the job.

        Raises:
            SlurmError: Slurm could not be asked.
        """
        if self.job_id is None:
            return None
        if self.ended is not None:
            return self.ended
        info = await default_watcher().get(self.job_id, max_age=self._max_age())
        self._last = info
        return info

    def end_reason(self) -> str | None:
        """How the job ended (``Slurm job 12 TIMEOUT on node1, ...``); None until it has.

        Adrastea's registry marks a kernel whose job ended dead with this
        reason instead of restarting it (which would mean a new job).
        """
        if self.ended is None:
            return None
        return f"Slurm {self.ended.describe()}"

    async def cancel(self) -> None:
        """Cancel the job, queued or running (``scancel``); a finished job is left alone."""
        if self.job_id is None or self.ended is not None:
            return
        self._cancelled = True
        self._hurry_until = anyio.current_time() + _HURRY_FOR
        try:
            await scancel(self.job_id)
        except SlurmError as exc:
            log.warning("cancelling Slurm job %s failed: %s", self.job_id, exc.detail)

    # -- helpers -------------------------------------------------------------------

    def _kernel_name(self) -> str:
        return str(getattr(self.parent, "kernel_name", "") or "kernel")

    def _request(self) -> dict[str, Any]:
        """What the node needs besides ports: the session's key and scheme."""
        km = self.parent
        if km is None:
            raise KernelStartFailed("the Slurm provisioner needs its kernel manager")
        request: dict[str, Any] = {
            "key": km.session.key.decode(),
            "signature_scheme": km.session.signature_scheme,
            "transport": "tcp",
            "kernel_name": km.kernel_name,
        }
        for name in ("curve_publickey", "curve_secretkey"):
            value = getattr(km, name, None)
            if value is not None:
                request[name] = value.decode() if isinstance(value, bytes) else value
        if self.connection_info.get("ip"):
            # A restart: the node reuses these if it can, so connected clients carry on.
            request["previous"] = {
                k: v for k, v in self.connection_info.items() if k == "ip" or k.endswith("_port")
            }
        return request

    def _launcher(self) -> list[str]:
        python = self.options.python or sys.executable
        argv = [python, "-I", "-S", str(_LAUNCHER)]
        argv += ["--ip", self.options.kernel_ip, "--route-to", socket.gethostname()]
        assert self.folder is not None
        return [*argv, str(self.folder.request), str(self.folder.connection_file), "--"]

    async def _until_connected(self, job_id: JobId, folder: JobFolder) -> KernelConnectionInfo:
        submitted = anyio.current_time()
        while True:
            written = await anyio.to_thread.run_sync(folder.read_connection)
            if written is not None:
                return _connection_info(written)
            info = await self._state()
            if info is None or info.is_finished:
                # The kernel may have written the file just before it died.
                if (written := folder.read_connection()) is not None:
                    return _connection_info(written)
                self._note_end(info)
                raise KernelStartFailed(self._start_failure(job_id, info, folder))
            waited = anyio.current_time() - submitted
            timeout = self.options.pending_timeout
            if timeout is not None and info.state.is_pending and waited > timeout:
                await self.cancel()
                raise KernelStartFailed(
                    f"Slurm job {job_id} was still pending after {timeout:g} s "
                    f"({info.reason or 'no reason given'}); it was cancelled"
                )
            quick = info.state is JobState.RUNNING or waited < _QUICK_START
            await anyio.sleep(_FILE_CHECK if quick else _HURRY)

    def _start_failure(self, job_id: JobId, info: JobInfo | None, folder: JobFolder) -> str:
        if self._cancelled:
            return f"the start of kernel {self.kernel_id} was cancelled (Slurm job {job_id})"
        what = info.describe() if info is not None else f"job {job_id} vanished from Slurm"
        text = f"Slurm {what} before the kernel started; logs: {folder.log(job_id, 'err')}"
        tail = folder.tail(job_id)
        return f"{text}\n{tail}" if tail else text

    async def _state(self) -> JobInfo | None:
        assert self.job_id is not None
        if self.ended is not None:
            return self.ended
        try:
            info = await default_watcher().get(self.job_id, max_age=self._max_age())
        except SlurmError as exc:
            log.warning("cannot read Slurm job %s's state: %s", self.job_id, exc.detail)
            return self._last if self._last is not None else _unknown(self.job_id)
        self._last = info
        return info

    def _max_age(self) -> float:
        if anyio.current_time() < self._hurry_until:
            return min(_HURRY, self.options.poll_interval)
        return self.options.poll_interval

    def _note_end(self, info: JobInfo | None) -> None:
        if self.ended is not None or self.job_id is None:
            return
        self.ended = info or _unknown(self.job_id)
        text = self.ended.describe() if info else f"job {self.job_id} vanished from Slurm"
        if self._cancelled or (info is not None and info.state is JobState.COMPLETED):
            log.info("kernel %s: Slurm %s", self.kernel_id, text)
        else:
            log.warning("kernel %s: Slurm %s", self.kernel_id, text)

    def _ended_normally(self) -> bool:
        ended = self.ended
        if ended is None:
            return self._cancelled
        if ended.state is JobState.COMPLETED:
            return not ended.exit_code
        return self._cancelled and ended.state is JobState.CANCELLED


def _connection_info(written: dict[str, Any]) -> KernelConnectionInfo:
    info = dict(written)
    # The kernel manager compares keys as bytes.
    info["key"] = str(info.get("key", "")).encode()
    return cast(KernelConnectionInfo, info)


def _unknown(job_id: JobId, state: JobState = JobState.UNKNOWN) -> JobInfo:
    return JobInfo(job_id=job_id, state=state)


def _exit_status(info: JobInfo | None) -> int:
    """Popen-style: the exit code, ``-N`` for a signal, 1 for other abnormal ends."""
    if info is None:
        return 1
    if info.signal:
        return -info.signal
    if info.exit_code:
        return info.exit_code
    return 0 if info.state is JobState.COMPLETED else 1
