"""``collect`` over hand-made executed notebooks, and the CSV, Parquet and HTML it writes."""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from adrastea.batch import (
    SweepManifest,
    TaskState,
    collect,
    record_bundle,
    write_csv,
    write_parquet,
    write_report,
)
from adrastea.batch._collect import first_error, run_duration

GRID: dict[str, list[Any]] = {"alpha": [0.1, 0.2], "n": [5, 10]}


def _records(**values: Any) -> list[Any]:
    return [new_output("display_data", data=record_bundle(k, v)) for k, v in values.items()]


def _executed(params: dict[str, Any], cells: list[Any], **papermill: Any) -> Any:
    nb = new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.papermill = {"parameters": params, **papermill}
    nb.cells = [new_markdown_cell("# Task"), *cells]
    return nb


def _timing(start: str, end: str) -> dict[str, Any]:
    # What JupyterLab (and nbclient's record_timing) write into cell metadata.
    return {
        "execution": {
            "iopub.status.busy": start,
            "iopub.execute_input": start,
            "shell.execute_reply": end,
            "iopub.status.idle": end,
        }
    }


def make_sweep(tmp_path: Path) -> Path:
    """Four tasks: ok (papermill timing), failed (cell timing), missing, ok (adrastea run)."""
    manifest = SweepManifest.plan(GRID, notebook="train.ipynb")
    manifest.with_state(3, TaskState.DONE).save(tmp_path)
    t = manifest.tasks

    ok = _executed(
        t[0].params,
        [new_code_cell("train()", execution_count=1, outputs=_records(loss=0.5, acc=0.8))],
        duration=12.5,
    )
    failed = _executed(
        t[1].params,
        [
            new_code_cell(
                "setup()",
                execution_count=1,
                outputs=_records(loss=0.9),
                metadata=_timing("2024-05-01T10:00:00.000Z", "2024-05-01T10:00:01.500Z"),
            ),
            new_code_cell(
                "train()",
                execution_count=2,
                outputs=[
                    new_output("stream", name="stdout", text="epoch 1\n"),
                    new_output("error", ename="ValueError", evalue="bad alpha", traceback=[]),
                ],
                metadata=_timing("2024-05-01T10:00:01.600Z", "2024-05-01T10:00:04.000Z"),
            ),
            new_code_cell("report()", execution_count=None),
        ],
    )
    last = _executed(
        t[3].params,
        [
            new_code_cell(
                "train()",
                execution_count=1,
                outputs=_records(loss=0.25, acc=0.95, tag="best", curve=[0.9, 0.5, 0.25]),
            )
        ],
    )
    last.metadata.adrastea = {
        "run": {
            "status": "completed",
            "start_time": "2024-05-01T11:00:00Z",
            "end_time": "2024-05-01T11:00:30.250000Z",
        }
    }
    for task, nb in [(t[0], ok), (t[1], failed), (t[3], last)]:
        nbformat.write(nb, tmp_path / task.output)
    return tmp_path


def test_collect_reads_every_task(tmp_path: Path) -> None:
    table = collect(make_sweep(tmp_path))
    assert table.swept == ("alpha", "n")
    assert [r.status for r in table.results] == ["ok", "failed", "missing", "ok"]
    ok, failed, missing, last = table.results
    assert ok.params == {"alpha": 0.1, "n": 5}
    assert ok.records == {"loss": 0.5, "acc": 0.8}
    assert ok.duration == 12.5
    assert ok.error is None
    assert failed.error == "ValueError: bad alpha"
    assert failed.duration == pytest.approx(4.0)
    assert failed.records == {"loss": 0.9}
    assert missing.notebook == "002-alpha=0.2,n=5.ipynb"
    assert missing.params == {"alpha": 0.2, "n": 5}
    assert missing.error == "no output notebook"
    assert last.duration == pytest.approx(30.25)
    assert table.columns() == [
        "index",
        "notebook",
        "status",
        "alpha",
        "n",
        "loss",
        "acc",
        "tag",
        "curve",
        "duration_s",
        "error",
    ]


def test_csv_rows(tmp_path: Path) -> None:
    table = collect(make_sweep(tmp_path))
    path = write_csv(table, tmp_path / "results.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert rows[0] == {
        "index": "0",
        "notebook": "000-alpha=0.1,n=5.ipynb",
        "status": "ok",
        "alpha": "0.1",
        "n": "5",
        "loss": "0.5",
        "acc": "0.8",
        "tag": "",
        "curve": "",
        "duration_s": "12.5",
        "error": "",
    }
    assert rows[1]["status"] == "failed"
    assert rows[1]["error"] == "ValueError: bad alpha"
    assert rows[2]["status"] == "missing"
    assert rows[3]["curve"] == "[0.9, 0.5, 0.25]"
    assert rows[3]["tag"] == "best"


@pytest.mark.slow
def test_parquet_keeps_types(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table = collect(make_sweep(tmp_path))
    path = tmp_path / "results.parquet"
    assert write_parquet(table, path)
    rows = pq.read_table(path).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "failed", "missing", "ok"]
    assert [r["loss"] for r in rows] == [0.5, 0.9, None, 0.25]
    assert [r["n"] for r in rows] == [5, 10, 5, 10]
    assert rows[3]["curve"] == "[0.9, 0.5, 0.25]"


@pytest.mark.slow
def test_html_report_is_self_contained_with_plots(tmp_path: Path) -> None:
    table = collect(make_sweep(tmp_path))
    path = write_report(table, tmp_path / "report.html", title="Sweep <train>")
    text = path.read_text(encoding="utf-8")
    assert "<title>Sweep &lt;train&gt;</title>" in text
    assert "4 tasks: 2 ok, 1 failed, 1 missing" in text
    assert '<tr class="failed">' in text
    assert "ValueError: bad alpha" in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    # loss and acc (numbers) against alpha and n; "tag" and "curve" are not plotted.
    assert len(images) == 4
    assert re.findall(r'alt="([^"]+)"', text) == [
        "loss vs alpha",
        "loss vs n",
        "acc vs alpha",
        "acc vs n",
    ]
    for image in images:
        assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in text
    assert "https://" not in text


def test_collect_without_a_manifest(tmp_path: Path) -> None:
    make_sweep(tmp_path)
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "notes.ipynb").write_text("{}")  # not a task file
    table = collect(tmp_path)
    assert [r.index for r in table.results] == [0, 1, 3]
    assert table.swept == ("alpha", "n")


def test_manifest_failure_wins_when_the_notebook_shows_none(tmp_path: Path) -> None:
    manifest = SweepManifest.plan({"a": [1]})
    manifest.with_state(0, TaskState.FAILED, "kernel died").save(tmp_path)
    nb = _executed({"a": 1}, [new_code_cell("x", execution_count=1)])
    nbformat.write(nb, tmp_path / manifest.tasks[0].output)
    result = collect(tmp_path).results[0]
    assert (result.status, result.error) == ("failed", "kernel died")


def test_unreadable_and_unrun_notebooks(tmp_path: Path) -> None:
    manifest = SweepManifest.plan({"a": [1, 2, 3, 4]})
    manifest.save(tmp_path)
    t = manifest.tasks
    (tmp_path / t[0].output).write_text("{truncated")
    unrun = _executed({"a": 2}, [new_code_cell("x"), new_code_cell("  ")])
    nbformat.write(unrun, tmp_path / t[1].output)
    partial = _executed({"a": 3}, [new_code_cell("x", execution_count=1), new_code_cell("y")])
    nbformat.write(partial, tmp_path / t[2].output)
    skipped = _executed(
        {"a": 4},
        [
            new_code_cell("x", execution_count=1),
            new_code_cell("y", metadata={"tags": ["skip-execution"]}),
        ],
    )
    nbformat.write(skipped, tmp_path / t[3].output)
    results = collect(tmp_path).results
    assert [(r.status, r.error) for r in results] == [
        ("failed", results[0].error),
        ("missing", "the notebook has not been run"),
        ("failed", "the run stopped before code cell 2"),
        ("ok", None),
    ]
    assert results[0].error is not None
    assert results[0].error.startswith("unreadable:")


def test_adrastea_run_status_is_read() -> None:
    nb = _executed({}, [new_code_cell("x", execution_count=1)])
    nb.metadata.adrastea = {"run": {"status": "timeout"}}
    from adrastea.batch._collect import _status

    assert _status(nb) == ("failed", "timeout")
    nb.metadata.adrastea = {"run": {"status": "failed", "error": {"ename": "E", "evalue": "v"}}}
    assert _status(nb) == ("failed", "E: v")
    nb.metadata.adrastea = {"run": {"status": "running"}}
    assert _status(nb)[0] == "missing"


def test_clean_system_exit_is_not_an_error() -> None:
    exit_zero = new_output("error", ename="SystemExit", evalue="0", traceback=[])
    exit_one = new_output("error", ename="SystemExit", evalue="1", traceback=[])
    nb = _executed({}, [new_code_cell("x", execution_count=1, outputs=[exit_zero])])
    assert first_error(nb) is None
    nb.cells[1].outputs.append(exit_one)
    assert first_error(nb) == "SystemExit: 1"


def test_run_duration_sources() -> None:
    nb = _executed({}, [new_code_cell("x", execution_count=1)])
    assert run_duration(nb) is None
    nb.cells[1].metadata = _timing("2024-05-01T10:00:00Z", "2024-05-01T10:00:02Z")
    assert run_duration(nb) == 2.0
    nb.metadata.papermill["duration"] = 7.0
    assert run_duration(nb) == 7.0
    nb.metadata.papermill["duration"] = None  # papermill's value while running
    nb.cells[1].metadata = _timing("not a time", "2024-05-01T10:00:02Z")
    assert run_duration(nb) is None


def test_a_record_named_like_a_column_is_prefixed(tmp_path: Path) -> None:
    manifest = SweepManifest.plan({"n": [1]})
    manifest.save(tmp_path)
    cells = [new_code_cell("x", execution_count=1, outputs=_records(n=2, status="odd", loss=1))]
    nbformat.write(_executed({"n": 1}, cells), tmp_path / manifest.tasks[0].output)
    table = collect(tmp_path)
    assert table.columns()[3:7] == ["n", "record:n", "record:status", "loss"]
    (row,) = table.rows()
    assert (row["n"], row["record:n"], row["record:status"], row["status"]) == (1, 2, "odd", "ok")
