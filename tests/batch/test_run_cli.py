"""``adrastea run`` and local ``adrastea sweep``, end to end with real kernels."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.slow


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adrastea", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
        timeout=300,
        check=False,
    )


def _notebook(path: Path, *sources: str, parameters: str | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = []
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata.tags = ["parameters"]
        cells.append(cell)
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells = cells
    nbformat.write(nb, path)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _texts(nb: dict[str, Any]) -> list[str]:
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                out.append("".join(o["text"]))
            elif "data" in o:
                out.append("".join(o["data"].get("text/plain", "")))
    return out


PARAMS = [
    ("n", "3"),
    ("alpha", "0.5"),
    ("flag", "True"),
    ("name", "hello world"),
    ("items", "[1, 2, 3]"),
]


def test_parameters_match_papermill(tmp_path: Path) -> None:
    source = tmp_path / "p.ipynb"
    _notebook(
        source,
        "print(repr(n), repr(alpha), repr(flag), repr(name), repr(items))",
        parameters="n = 1\nalpha = 0.1\nflag = False\nname = 'x'\nitems = []",
    )
    (tmp_path / "more.yaml").write_text("items: [1, 2, 3]\n")
    args = [a for name, value in PARAMS for a in ("-p", name, value)]
    ours = _cli("run", "p.ipynb", "-o", "ours.ipynb", *args, cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    theirs = _cli_papermill(tmp_path, args)
    assert theirs.returncode == 0, theirs.stderr
    a, b = _load(tmp_path / "ours.ipynb"), _load(tmp_path / "theirs.ipynb")
    injected_a = [c for c in a["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    injected_b = [c for c in b["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "".join(injected_a[0]["source"]) == "".join(injected_b[0]["source"])
    assert [c["cell_type"] for c in a["cells"]] == [c["cell_type"] for c in b["cells"]]
    assert _texts(a) == _texts(b)
    # papermill's -p keeps a list literal a string; lists come from -f YAML.
    assert "3 0.5 True 'hello world' '[1, 2, 3]'" in _texts(a)[0]
    from_yaml = _cli("run", "p.ipynb", "-o", "y.ipynb", "-f", "more.yaml", cwd=tmp_path)
    assert from_yaml.returncode == 0, from_yaml.stderr
    assert "[1, 2, 3]\n" in _texts(_load(tmp_path / "y.ipynb"))[0]


def _cli_papermill(cwd: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papermill", "p.ipynb", "theirs.ipynb", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_failing_cell_exits_nonzero_marks_error_and_resume_continues(tmp_path: Path) -> None:
    _notebook(
        tmp_path / "f.ipynb",
        "import pathlib\nok = pathlib.Path('fixed').exists()",
        "print('before')",
        "assert ok, 'not fixed yet'",
        "print('after')",
    )
    result = _cli("run", "f.ipynb", "-o", "out.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert "cell 3: AssertionError: not fixed yet" in result.stderr
    out = _load(tmp_path / "out.ipynb")
    nbformat.validate(nbformat.from_dict(out))
    assert "stopped with an error in cell 3" in "".join(out["cells"][0]["source"])
    assert out["metadata"]["adrastea"]["run"]["status"] == "failed"
    assert "after" not in "".join(_texts(out))

    (tmp_path / "fixed").touch()
    resumed = _cli("run", "f.ipynb", "--resume", "out.ipynb", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    out = _load(tmp_path / "out.ipynb")
    assert out["metadata"]["adrastea"]["run"]["status"] == "completed"
    assert "adrastea-error" not in json.dumps([c["metadata"] for c in out["cells"]])
    assert _texts(out) == ["before\n", "after\n"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.ipynb"], "cannot read"),
        (["bad.ipynb"], "not valid JSON"),
        (["good.ipynb", "-p", "1bad", "2"], "1bad"),
        (["good.ipynb", "-o", "no/such/dir/out.ipynb"], "does not exist"),
        (["good.ipynb", "--start-at", "99"], "no cell"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    _notebook(tmp_path / "good.ipynb", "1")
    result = _cli("run", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "good.out.ipynb").exists()


def test_partial_runs(tmp_path: Path) -> None:
    _notebook(tmp_path / "r.ipynb", "print(1)", "print(2)", "print(3)")
    result = _cli("run", "r.ipynb", "--start-at", "2", "--stop-after", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _texts(_load(tmp_path / "r.out.ipynb")) == ["2\n"]


def test_local_sweep_collect_and_resume(tmp_path: Path) -> None:
    _notebook(
        tmp_path / "s.ipynb",
        "import adrastea, pathlib\n"
        "assert not (alpha == 2 and n == 3 and not pathlib.Path('fixed').exists()), 'boom'\n"
        "adrastea.record('score', alpha * n)",
        parameters="alpha = 1\nn = 1",
    )
    result = _cli(
        "sweep", "s.ipynb", "--grid", "alpha=1,2", "--grid", "n=1,2,3", "--out", "out",
        "--max-parallel", "3", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1  # one task failed on purpose
    outputs = sorted(p.name for p in (tmp_path / "out").glob("*.ipynb"))
    assert len(outputs) == 6 and outputs[0].startswith("000-alpha=1,n=1")
    collected = _cli("sweep", "collect", "out", cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    rows = _rows(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["failed"]
    assert rows[4]["score"] == "4" and "boom" in rows[5]["error"]
    assert "<img" in (tmp_path / "out" / "report.html").read_text()

    (tmp_path / "fixed").touch()
    before = (tmp_path / "out" / outputs[0]).stat().st_mtime_ns
    resumed = _cli("sweep", "resume", "out", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "rerunning tasks 5" in resumed.stderr
    assert (tmp_path / "out" / outputs[0]).stat().st_mtime_ns == before  # not rerun
    _cli("sweep", "collect", "out", cwd=tmp_path)
    rows = _rows(tmp_path / "out" / "results.csv")
    assert rows[5]["status"] == "ok" and rows[5]["score"] == "6"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_report_renders_an_executed_notebook(tmp_path: Path) -> None:
    _notebook(tmp_path / "r.ipynb", "print('the answer is', 6 * 7)")
    assert _cli("run", "r.ipynb", cwd=tmp_path).returncode == 0
    result = _cli("report", "r.out.ipynb", "--html", "page.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "page.html").read_text()
    assert "the answer is 42" in page and "<html" in page
    missing = _cli("report", "nope.ipynb", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
