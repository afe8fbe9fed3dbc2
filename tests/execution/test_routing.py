"""CellRouting: one cell's messages into sink calls, without a kernel."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

from adrastea.execution._routing import CellRouting, DisplayTargets
from adrastea.execution._sink import CellState, Output


class RecordingSink:
    """An ``OutputSink`` keeping outputs per cell and a log of the calls."""

    def __init__(self) -> None:
        self.outputs: dict[str, list[Output]] = {"a": [], "b": []}
        self.calls: list[str] = []

    def batch(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def cell_ids(self) -> list[str]:
        return list(self.outputs)

    def cell_type(self, cell_id: str) -> str:
        return "code"

    def cell_source(self, cell_id: str) -> str:
        return ""

    def set_state(self, cell_id: str, state: CellState) -> None:
        self.calls.append(f"state {state}")

    def clear_outputs(self, cell_id: str) -> None:
        self.calls.append("clear")
        self.outputs[cell_id] = []

    def append_output(self, cell_id: str, output: Output) -> int:
        self.calls.append(f"append {output['output_type']}")
        self.outputs[cell_id].append(output)
        return len(self.outputs[cell_id]) - 1

    def append_stream(self, cell_id: str, name: str, text: str) -> int:
        self.calls.append(f"stream {text!r}")
        self.outputs[cell_id].append({"output_type": "stream", "name": name, "text": text})
        return len(self.outputs[cell_id]) - 1

    def replace_output(self, cell_id: str, index: int, output: Output) -> None:
        self.outputs[cell_id][index] = output

    def set_execution_count(self, cell_id: str, count: int | None) -> None:
        pass

    def set_execution_metadata(self, cell_id: str, timing: dict[str, str]) -> None:
        pass

    def cell_finished(self, cell_id: str, ok: bool) -> None:
        pass


def _msg(kind: str, content: dict[str, Any], parent: str = "m1") -> dict[str, Any]:
    return {
        "header": {"msg_type": kind},
        "parent_header": {"msg_id": parent},
        "metadata": {},
        "content": content,
    }


def _routing(
    sink: RecordingSink, *, ours: bool = True, targets: DisplayTargets | None = None
) -> CellRouting:
    return CellRouting(
        sink,
        "a",
        "m1",
        ours=ours,
        coalesce_interval=10.0,
        display_targets=targets if targets is not None else {},
    )


def test_a_cell_ends_with_idle_and_its_reply_in_either_order() -> None:
    sink = RecordingSink()
    routing = _routing(sink)
    routing.handle("iopub", _msg("execute_input", {"execution_count": 7}))
    routing.handle("iopub", _msg("status", {"execution_state": "idle"}, parent="other"))
    routing.handle("shell", _msg("execute_reply", {"status": "ok"}, parent="other"))
    assert not routing.done
    routing.handle("iopub", _msg("status", {"execution_state": "idle"}))
    assert not routing.done  # ours: the reply is still to come
    routing.handle("shell", _msg("execute_reply", {"status": "ok", "execution_count": 7}))
    assert routing.done
    result = routing.result()
    assert (result.status, result.execution_count) == ("ok", 7)
    assert {"iopub.execute_input", "iopub.status.idle", "shell.execute_reply"} <= set(
        routing.timing
    )


def test_a_followed_cell_ends_with_idle_and_its_error_output() -> None:
    sink = RecordingSink()
    routing = _routing(sink, ours=False)
    error = {"ename": "ValueError", "evalue": "x", "traceback": ["tb"]}
    routing.handle("iopub", _msg("error", error))
    routing.handle("iopub", _msg("status", {"execution_state": "idle"}))
    assert routing.done
    result = routing.result()
    assert (result.status, result.ename, result.traceback) == ("error", "ValueError", ["tb"])
    assert sink.outputs["a"] == [{"output_type": "error", **error}]


def test_stream_text_is_gathered_until_other_output_or_the_end() -> None:
    sink = RecordingSink()
    routing = _routing(sink)
    for text in ("1\n", "2\n"):
        routing.handle("iopub", _msg("stream", {"name": "stdout", "text": text}))
    routing.handle("iopub", _msg("stream", {"name": "stderr", "text": "e\n"}))
    routing.flush_due()  # not due yet: nothing written
    assert sink.calls == []
    routing.handle("iopub", _msg("display_data", {"data": {"text/plain": "d"}, "metadata": {}}))
    routing.handle("iopub", _msg("stream", {"name": "stdout", "text": "3\n"}))
    routing.handle("iopub", _msg("status", {"execution_state": "idle"}))
    routing.streams.flush()
    assert sink.calls == [
        "stream '1\\n2\\n'",
        "stream 'e\\n'",
        "append display_data",
        "stream '3\\n'",
    ]


def test_clear_output_wait_clears_at_the_next_output() -> None:
    sink = RecordingSink()
    sink.outputs["a"] = [{"output_type": "stream", "name": "stdout", "text": "old"}]
    routing = _routing(sink)
    routing.handle("iopub", _msg("clear_output", {"wait": True}))
    assert sink.calls == []
    routing.handle("iopub", _msg("stream", {"name": "stdout", "text": "new"}))
    routing.streams.flush()
    assert sink.calls == ["clear", "stream 'new'"]
    assert sink.outputs["a"] == [{"output_type": "stream", "name": "stdout", "text": "new"}]


def test_display_updates_reach_every_output_showing_the_id() -> None:
    sink = RecordingSink()
    targets: DisplayTargets = {"d1": [("b", 0)]}
    sink.outputs["b"] = [{"output_type": "display_data", "data": {}, "metadata": {}}]
    routing = _routing(sink, targets=targets)
    shown = {"data": {"text/plain": "one"}, "metadata": {}, "transient": {"display_id": "d1"}}
    routing.handle("iopub", _msg("display_data", shown))
    assert targets["d1"] == [("b", 0), ("a", 0)]
    update = {**shown, "data": {"text/plain": "two"}}
    routing.handle("iopub", _msg("update_display_data", update))
    assert sink.outputs["a"][0]["data"] == {"text/plain": "two"}
    assert sink.outputs["b"][0]["data"] == {"text/plain": "two"}


def test_an_input_request_is_handed_back() -> None:
    routing = _routing(RecordingSink())
    request = {"prompt": "who? ", "password": False}
    assert routing.handle("stdin", _msg("input_request", request, parent="other")) is None
    assert routing.handle("stdin", _msg("input_request", request)) == request
