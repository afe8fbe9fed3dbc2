"""The adrastea-slurm provisioner against real Slurm, through real jupyter_client.

One event loop serves the whole module (``anyio_backend`` is module-scoped),
so the 1-minute ``--time`` kernel starts first and times out (70-90 s later)
while the other tests run; its test comes last.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory

from adrastea.errors import KernelStartFailed
from adrastea.kernels._slurm_provisioner import SlurmProvisioner
from adrastea.slurm import JobState, squeue

from .conftest import launch, stop

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.anyio]


def provisioner(km: AsyncKernelManager) -> SlurmProvisioner:
    assert isinstance(km.provisioner, SlurmProvisioner)
    return km.provisioner


async def run(kc: AsyncKernelClient, code: str, within: float = 30) -> tuple[str, dict[str, Any]]:
    """Execute ``code``; its stdout and the execute_reply content."""
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])

    reply = await kc.execute_interactive(code, output_hook=hook, timeout=within)
    return "".join(out), reply["content"]


async def started(kc: AsyncKernelClient, msg_id: str) -> None:
    """Wait until the kernel has begun executing request ``msg_id``."""
    while True:
        msg = await kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return


async def until(predicate: Callable[[], Any], within: float) -> float:
    """Poll an outside system (Slurm) until ``predicate()`` is truthy; seconds taken."""
    begun = time.perf_counter()
    with anyio.fail_after(within):
        # Slurm has no events to wait on; polling is the only way.
        while not await predicate():  # noqa: ASYNC110
            await anyio.sleep(0.05)
    return time.perf_counter() - begun


@pytest.fixture(scope="module")
async def timeout_kernel(
    slurm_cluster: str, kernelspecs: Callable[..., str]
) -> AsyncIterator[AsyncKernelManager]:
    """A kernel with a 1-minute time limit, started before every other test here."""
    km = AsyncKernelManager(kernel_name=kernelspecs("slurm-timeout", time="1"))
    await km.start_kernel()
    yield km
    if km.has_kernel:
        await km.shutdown_kernel(now=True)


@pytest.fixture(scope="module", autouse=True)
async def _timeout_kernel_first(timeout_kernel: AsyncKernelManager) -> None:
    """Starts ``timeout_kernel`` at the beginning of the module, whatever test runs first."""


@pytest.fixture(scope="module")
async def kernel(
    slurm_cluster: str, kernelspecs: Callable[..., str]
) -> AsyncIterator[tuple[AsyncKernelManager, AsyncKernelClient]]:
    """One shared kernel, with setup lines and a kernelspec environment."""
    name = kernelspecs(
        "slurm-python",
        env={"ADRASTEA_SPEC_ENV": "from the kernelspec"},
        setup=["export ADRASTEA_SETUP='it ran'"],
        cpus=2,
    )
    km, kc = await launch(name)
    yield km, kc
    await stop(km, kc)


async def test_kernel_runs_in_its_own_job(
    kernel: tuple[AsyncKernelManager, AsyncKernelClient],
) -> None:
    km, kc = kernel
    prov = provisioner(km)
    out, reply = await run(
        kc,
        "import os; print(os.environ['SLURM_JOB_ID'], os.environ['SLURM_CPUS_PER_TASK'],"
        " os.environ['ADRASTEA_SETUP'], os.environ['ADRASTEA_SPEC_ENV'], sep='|')",
    )
    assert reply["status"] == "ok"
    assert out.strip().split("|") == [prov.job_id, "2", "it ran", "from the kernelspec"]
    info = await prov.job_info()
    assert info is not None and info.state is JobState.RUNNING
    assert info.nodes and info.start_time and info.elapsed is not None
    assert info.time_limit is not None and info.time_left is not None
    assert await km.is_alive()


async def test_interrupt_raises_keyboard_interrupt_and_kernel_lives(
    kernel: tuple[AsyncKernelManager, AsyncKernelClient],
) -> None:
    km, kc = kernel
    msg_id = kc.execute("import time; time.sleep(100)")
    await started(kc, msg_id)
    begun = time.perf_counter()
    await km.interrupt_kernel()  # kernelspec interrupt_mode "signal": scancel --signal=INT --full
    reply = await kc.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.perf_counter() - begun < 5
    out, after = await run(kc, "print(6 * 7)")
    assert (out.strip(), after["status"]) == ("42", "ok")
    assert await km.is_alive()


async def test_shutdown_ends_the_job_and_removes_its_files(
    start_kernel: Callable[[str], Any], kernelspecs: Callable[..., str]
) -> None:
    km, kc = await start_kernel(kernelspecs("slurm-shutdown"))
    prov = provisioner(km)
    job_id, folder = prov.job_id, prov.folder
    assert job_id is not None and folder is not None
    assert folder.connection_file.exists() and folder.script.exists()
    kc.stop_channels()
    begun = time.perf_counter()
    await km.shutdown_kernel()
    assert time.perf_counter() - begun < 5
    info = (await squeue([job_id]))[job_id]
    assert info.state is JobState.COMPLETED and info.exit_code == 0
    assert prov.ended is not None and prov.ended.state is JobState.COMPLETED
    assert not folder.path.exists()  # a normal end keeps no logs (keep_logs="failed")
    assert not km.has_kernel


async def test_scancel_from_outside_is_noticed_as_cancelled(
    start_kernel: Callable[[str], Any], kernelspecs: Callable[..., str]
) -> None:
    km, kc = await start_kernel(kernelspecs("slurm-scancel"))
    prov = provisioner(km)
    assert prov.job_id is not None and prov.folder is not None
    await started(kc, kc.execute("import time; time.sleep(100)"))
    await anyio.run_process(["scancel", prov.job_id])
    noticed = await until(lambda: _dead(km), within=10)
    assert noticed < 5
    assert prov.ended is not None and prov.ended.state is JobState.CANCELLED
    assert await prov.poll() == -15  # SIGTERM from Slurm, like Popen's returncode
    await km.shutdown_kernel(now=True)
    assert prov.folder.log(prov.job_id, "err").exists()  # an abnormal end keeps its logs


async def _dead(km: AsyncKernelManager) -> bool:
    return not await km.is_alive()


async def test_pending_job_shows_its_reason_and_can_be_cancelled(
    slurm_cluster: str, kernelspecs: Callable[..., str]
) -> None:
    km = AsyncKernelManager(kernel_name=kernelspecs("slurm-huge", cpus=64))
    async with anyio.create_task_group() as tg:
        failure: list[BaseException] = []

        async def start() -> None:
            try:
                await km.start_kernel()
            except KernelStartFailed as exc:
                failure.append(exc)

        tg.start_soon(start)
        await until(lambda: _submitted(km), within=30)
        prov = provisioner(km)
        info = await prov.job_info()
        assert info is not None and info.state is JobState.PENDING
        assert info.reason  # e.g. PartitionConfig / Resources
        assert await km.is_alive()  # queued counts as alive, not dead
        await prov.cancel()
    assert failure and "cancelled" in str(failure[0])
    assert prov.job_id is not None
    await until(lambda: _finished(prov), within=10)
    assert prov.ended is not None and prov.ended.state is JobState.CANCELLED
    await prov.cleanup()


async def _submitted(km: AsyncKernelManager) -> bool:
    prov = km.provisioner
    return isinstance(prov, SlurmProvisioner) and prov.job_id is not None


async def _finished(prov: SlurmProvisioner) -> bool:
    return await prov.poll() is not None


async def test_pending_timeout_cancels_the_job(
    slurm_cluster: str, kernelspecs: Callable[..., str]
) -> None:
    km = AsyncKernelManager(kernel_name=kernelspecs("slurm-impatient", cpus=64, pending_timeout=1))
    with pytest.raises(KernelStartFailed, match=r"still pending after 1 s \(\w+"):
        await km.start_kernel()
    prov = provisioner(km)
    await until(lambda: _finished(prov), within=10)
    assert prov.ended is not None and prov.ended.state is JobState.CANCELLED


async def test_a_job_that_dies_before_the_kernel_starts_reports_why(
    slurm_cluster: str, kernelspecs: Callable[..., str]
) -> None:
    name = kernelspecs("slurm-broken", setup=["echo 'no kernel here' >&2", "exit 3"])
    km = AsyncKernelManager(kernel_name=name)
    with pytest.raises(KernelStartFailed) as failed:
        await km.start_kernel()
    assert "FAILED" in str(failed.value) and "exit code 3" in str(failed.value)
    assert "no kernel here" in str(failed.value)  # the tail of the job's stderr


async def test_four_kernels_at_once(
    start_kernel: Callable[[str], Any], kernelspecs: Callable[..., str]
) -> None:
    name = kernelspecs("slurm-many")
    kernels: list[tuple[AsyncKernelManager, AsyncKernelClient]] = []

    async def one() -> None:
        kernels.append(await start_kernel(name))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(one)
    job_ids = {provisioner(km).job_id for km, _ in kernels}
    assert len(job_ids) == 4
    for km, kc in kernels:
        out, _ = await run(kc, "import os; print(os.environ['SLURM_JOB_ID'])")
        assert out.strip() == provisioner(km).job_id


async def test_restart_submits_a_new_job_that_clients_reach_again(
    start_kernel: Callable[[str], Any], kernelspecs: Callable[..., str]
) -> None:
    km, kc = await start_kernel(kernelspecs("slurm-restart"))
    prov = provisioner(km)
    first = prov.job_id
    await run(kc, "before = 1")
    await km.restart_kernel()
    assert prov.job_id != first and await km.is_alive()
    assert (await squeue([first]))[first].state is JobState.COMPLETED
    # Same node, ports free again: the new kernel took them, so the old client carries on.
    await kc.wait_for_ready(timeout=30)
    out, _ = await run(kc, "import os; print('before' in dir(), os.environ['SLURM_JOB_ID'])")
    assert out.split() == ["False", prov.job_id]


async def test_another_manager_readopts_the_running_kernel(
    start_kernel: Callable[[str], Any], kernelspecs: Callable[..., str]
) -> None:
    name = kernelspecs("slurm-adopt")
    km1, kc1 = await start_kernel(name)
    await run(kc1, "secret = 'still here'")
    record = json.loads(json.dumps(await km1.provisioner.get_provisioner_info()))
    kc1.stop_channels()

    # What a later server process does with the record.
    km2 = AsyncKernelManager(kernel_name=name)
    km2.kernel_id = record["kernel_id"]
    spec = KernelSpecManager().get_kernel_spec(name)
    prov = KernelProvisionerFactory.instance().create_provisioner_instance(km2.kernel_id, spec, km2)
    await prov.load_provisioner_info(record)
    km2.provisioner = prov
    km2.load_connection_info(prov.connection_info)
    assert await km2.is_alive()
    kc2 = km2.client()
    kc2.start_channels()
    try:
        await kc2.wait_for_ready(timeout=30)
        out, _ = await run(kc2, "print(secret)")
        assert out.strip() == "still here"
        info = await provisioner(km2).job_info()
        assert info is not None and info.job_id == record["job_id"]
    finally:
        kc2.stop_channels()
    await km2.shutdown_kernel()
    assert not await km1.is_alive()


async def test_time_limit_ends_the_kernel_as_timeout(timeout_kernel: AsyncKernelManager) -> None:
    """Last: the 1-minute kernel started with the module ends TIMEOUT (70-90 s in)."""
    prov = provisioner(timeout_kernel)
    await until(lambda: _dead(timeout_kernel), within=150)
    assert prov.ended is not None and prov.ended.state is JobState.TIMEOUT
    assert await prov.poll() != 0
    assert "TIMEOUT" in prov.ended.describe()
