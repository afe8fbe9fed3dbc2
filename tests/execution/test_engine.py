"""The execution engine against a real ipykernel, writing into a plain notebook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager

from adrastea.batch._sink import NotebookFileSink
from adrastea.execution import ManagerConnection, NotebookEngine

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def kernel() -> AsyncIterator[ManagerConnection]:
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel()
    try:
        yield ManagerConnection(manager)
    finally:
        await manager.shutdown_kernel(now=True)


def _notebook(*sources: str) -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return dict(nbformat.from_dict(nb))


async def _run(kernel: ManagerConnection, nb: dict[str, Any], **kw: Any) -> NotebookFileSink:
    sink = NotebookFileSink(nb, None)
    engine = NotebookEngine(kernel, sink, **kw)
    async with anyio.create_task_group() as tg:
        await tg.start(engine.serve)
        engine.enqueue(sink.cell_ids())
        with anyio.fail_after(60):
            await engine.wait_idle()
        tg.cancel_scope.cancel()
    return sink


async def test_outputs_counts_and_timing(kernel: ManagerConnection) -> None:
    nb = _notebook(
        "print('hello')\n6 * 7", "from IPython.display import Markdown; Markdown('**b**')"
    )
    await _run(kernel, nb)
    first, second = nb["cells"]
    assert first["outputs"][0] == {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    assert first["outputs"][1]["data"]["text/plain"] == "42"
    assert first["execution_count"] + 1 == second["execution_count"]
    assert second["outputs"][0]["data"]["text/markdown"] == "**b**"
    timing = first["metadata"]["execution"]
    assert {"iopub.status.busy", "iopub.execute_input", "shell.execute_reply"} <= timing.keys()
    nbformat.validate(nbformat.from_dict(nb))


async def test_queue_stops_at_first_error(kernel: ManagerConnection) -> None:
    nb = _notebook("x = 1", "1/0", "x = 2")
    await _run(kernel, nb)
    assert nb["cells"][1]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert nb["cells"][2]["execution_count"] is None
    assert nb["cells"][2]["outputs"] == []


async def test_streams_are_coalesced(kernel: ManagerConnection) -> None:
    nb = _notebook("import sys\nfor i in range(2000):\n    print(i, flush=True)")
    await _run(kernel, nb)
    outputs = nb["cells"][0]["outputs"]
    assert len(outputs) == 1
    assert outputs[0]["text"] == "".join(f"{i}\n" for i in range(2000))


async def test_clear_output_wait_and_display_updates(kernel: ManagerConnection) -> None:
    nb = _notebook(
        "from IPython.display import display, clear_output\n"
        "h = display('one', display_id=True)\n"
        "for i in range(3):\n    clear_output(wait=True)\n    print('tick', i)\n",
        "h.update('two')",
    )
    await _run(kernel, nb)
    assert nb["cells"][0]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "tick 2\n"}
    ]
    nb2 = _notebook(
        "from IPython.display import display\nh = display('one', display_id=True)",
        "h.update('two')",
    )
    await _run(kernel, nb2)
    assert nb2["cells"][0]["outputs"][0]["data"]["text/plain"] == "'two'"


async def test_input_is_answered_or_times_out(kernel: ManagerConnection) -> None:
    nb = _notebook("name = input('who? ')\nprint('hi', name)")
    sink = NotebookFileSink(nb, None)
    engine = NotebookEngine(kernel, sink, stdin_timeout=30)
    async with anyio.create_task_group() as tg:
        await tg.start(engine.serve)
        engine.enqueue(sink.cell_ids())
        with anyio.fail_after(30):
            request = await engine.next_input_request()
        assert request == {"prompt": "who? ", "password": False}
        assert engine.answer_input("ada")
        await engine.wait_idle()
        tg.cancel_scope.cancel()
    assert "hi ada\n" in nb["cells"][0]["outputs"][-1]["text"]

    nb = _notebook("input('nobody answers')")
    await _run(kernel, nb, stdin_timeout=0.5)
    outputs = nb["cells"][0]["outputs"]
    assert any("no answer" in o.get("text", "") for o in outputs)
    assert outputs[-1]["ename"] == "KeyboardInterrupt"


async def test_other_clients_of_the_kernel_cannot_end_a_cell(kernel: ManagerConnection) -> None:
    # jupyter_client hands every client of a manager the same session id with a
    # counter from 0: a console attached to the same kernel sends the same
    # msg_ids as the engine.  Its requests' status messages must not be taken
    # for the running cell's, or the cell "ends" early and its output is lost.
    nb = _notebook("import time\ntime.sleep(1.5)\nprint('slept')")
    sink = NotebookFileSink(nb, None)
    sent = anyio.Event()
    engine = NotebookEngine(kernel, sink, on_cell_sent=lambda cell, msg_id: sent.set())
    other = kernel.manager.client()
    other.start_channels()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(engine.serve)
            engine.enqueue(sink.cell_ids())
            with anyio.fail_after(60):
                await sent.wait()
                for _ in range(10):
                    msg = other.session.msg("kernel_info_request")
                    other.control_channel.send(msg)
                    await other.get_control_msg(timeout=30)
                await engine.wait_idle()
            tg.cancel_scope.cancel()
    finally:
        other.stop_channels()
    assert nb["cells"][0]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "slept\n"}
    ]


async def test_a_restart_ends_the_running_cell_and_the_engine_goes_on() -> None:
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel()
    try:
        kernel = ManagerConnection(manager)
        nb = _notebook("import time\nprint('a', flush=True)\ntime.sleep(30)", "print('b')")
        printed = anyio.Event()

        class Sink(NotebookFileSink):
            def append_stream(self, cell_id: str, name: str, text: str) -> int:
                printed.set()
                return super().append_stream(cell_id, name, text)

        sink = Sink(nb, None)
        ended: list[str] = []

        async def done(cell_id: str, result: Any) -> None:
            ended.append(result.status)

        sent = anyio.Event()
        engine = NotebookEngine(
            kernel, sink, on_cell_done=done, on_cell_sent=lambda cell, msg_id: sent.set()
        )
        first, second = sink.cell_ids()
        async with anyio.create_task_group() as tg:
            await tg.start(engine.serve)
            with anyio.fail_after(60):
                engine.enqueue([first])
                await sent.wait()
                await printed.wait()  # the cell runs in the kernel: it printed 'a'
                await engine.restart()
                await engine.wait_idle()
                engine.enqueue([second])
                await engine.wait_idle()
            tg.cancel_scope.cancel()
        assert ended[0] in ("aborted", "died")
        assert ended[1] == "ok"
        assert engine.status().kernel_dead is None
        assert nb["cells"][1]["outputs"][0]["text"] == "b\n"
    finally:
        await manager.shutdown_kernel(now=True)
