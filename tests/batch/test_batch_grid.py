"""Sweep grids, task file names and the sweep manifest."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adrastea.batch import (
    MANIFEST_NAME,
    SweepManifest,
    TaskState,
    build_grid,
    expand_grid,
    params_slug,
    parse_grid_option,
    task_filename,
)
from adrastea.errors import BadRequest, FileNotFound, ParameterError


def test_grid_option_values_are_typed_like_p() -> None:
    assert parse_grid_option("alpha=0.1,1,x,True,None,") == (
        "alpha",
        [0.1, 1, "x", True, None, ""],
    )
    assert parse_grid_option("n=5") == ("n", [5])


@pytest.mark.parametrize(("option", "message"), [("alpha", "NAME=V1"), ("1a=1", "identifier")])
def test_bad_grid_options(option: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_grid_option(option)


def test_product_order_first_name_slowest() -> None:
    grid = build_grid(["alpha=0.1,0.2", "n=1,2,3"])
    points = expand_grid(grid)
    assert points == [
        {"alpha": 0.1, "n": 1},
        {"alpha": 0.1, "n": 2},
        {"alpha": 0.1, "n": 3},
        {"alpha": 0.2, "n": 1},
        {"alpha": 0.2, "n": 2},
        {"alpha": 0.2, "n": 3},
    ]


def test_zip_pairs_values() -> None:
    grid = build_grid(["alpha=0.1,0.2,0.3", "n=1,2,3"])
    assert expand_grid(grid, zip=True) == [
        {"alpha": 0.1, "n": 1},
        {"alpha": 0.2, "n": 2},
        {"alpha": 0.3, "n": 3},
    ]


def test_zip_needs_equal_lengths() -> None:
    grid = build_grid(["alpha=0.1,0.2,0.3", "n=1,2"])
    with pytest.raises(ParameterError) as info:
        expand_grid(grid, zip=True)
    assert info.value.detail == "--zip needs lists of the same length: alpha has 3, n has 2"


def test_grid_file_then_options(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("model: [mlp, cnn]\nlayers: [[64], [64, 32]]\nn: [1, 2]\n")
    grid = build_grid(["n=3"], files=[path])
    assert grid == {"model": ["mlp", "cnn"], "layers": [[64], [64, 32]], "n": [3]}
    assert len(expand_grid(grid)) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n: 5\n", "'n' must be a list of values, not int"),
        ("n: []\n", "'n' has no values"),
        ("- 1\n", "must hold a mapping"),
        ("", "the grid is empty"),
    ],
)
def test_bad_grid_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=re.escape(message)):
        build_grid(files=[path])


def test_repeated_and_empty_options_are_refused() -> None:
    with pytest.raises(ParameterError, match="more than once"):
        build_grid(["a=1", "a=2"])
    with pytest.raises(ParameterError, match="the grid is empty"):
        build_grid([])
    with pytest.raises(ParameterError, match="no values"):
        expand_grid({"a": []})


def test_task_file_names() -> None:
    assert task_filename(3, {"alpha": 0.1, "n": 5}) == "003-alpha=0.1,n=5.ipynb"
    assert task_filename(7, {}) == "007.ipynb"
    assert task_filename(42, {"a": 1}, total=12_000) == "00042-a=1.ipynb"
    assert task_filename(0, {"flag": True, "x": None, "s": "a b/c"}) == (
        "000-flag=True,x=None,s=a_b_c.ipynb"
    )
    assert task_filename(1, {"layers": [64, 32]}) == "001-layers=_64_32_.ipynb"


@pytest.mark.parametrize(
    "value",
    ["../../etc/passwd", "a\x00b", "~$HOME;rm -rf *", "\u00e9t\u00e9 \U0001f600", ".hidden"],
)
def test_slugs_are_file_system_safe(value: str) -> None:
    name = task_filename(1, {"s": value})
    assert re.fullmatch(r"[A-Za-z0-9._+=,~-]+", name)
    assert "/" not in name
    assert not name.startswith(".")


def test_long_slugs_are_bounded_and_distinct() -> None:
    a = params_slug({"text": "x" * 500, "n": 1})
    b = params_slug({"text": "x" * 500, "n": 2})
    assert len(a) == len(b) == 80
    assert a != b
    assert a.startswith("text=xxx")
    assert len(task_filename(1, {"text": "x" * 5000})) <= 100


def test_manifest_plan_save_load(tmp_path: Path) -> None:
    grid: dict[str, list[Any]] = {"alpha": [0.1, float("nan")], "n": [5, 10]}
    manifest = SweepManifest.plan(grid, notebook="train.ipynb")
    assert [t.output for t in manifest.tasks] == [
        "000-alpha=0.1,n=5.ipynb",
        "001-alpha=0.1,n=10.ipynb",
        "002-alpha=nan,n=5.ipynb",
        "003-alpha=nan,n=10.ipynb",
    ]
    assert all(t.state is TaskState.PENDING for t in manifest.tasks)
    assert manifest.mode == "product"

    path = (
        manifest.with_job("12345").with_state(1, TaskState.FAILED, "ValueError: x").save(tmp_path)
    )
    assert path == tmp_path / MANIFEST_NAME
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST_NAME]  # no temp file left

    loaded = SweepManifest.load(tmp_path)
    assert loaded.job_id == "12345"
    assert loaded.tasks[1].state is TaskState.FAILED
    assert loaded.tasks[1].error == "ValueError: x"
    assert math.isnan(loaded.tasks[2].params["alpha"])
    assert loaded.notebook == "train.ipynb"
    assert json.loads(path.read_text())["tasks"][0]["state"] == "pending"


def test_manifest_zip_mode_and_frozen() -> None:
    manifest = SweepManifest.plan({"a": [1, 2], "b": [3, 4]}, zip=True)
    assert [t.params for t in manifest.tasks] == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    assert manifest.mode == "zip"
    with pytest.raises(ValidationError):
        manifest.job_id = "1"  # type: ignore[misc]
    with pytest.raises(IndexError):
        manifest.with_state(2, TaskState.DONE)


def test_manifest_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFound):
        SweepManifest.load(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(BadRequest, match="is not a valid sweep manifest"):
        SweepManifest.load(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"grid": {}, "tasks": [], "extra": 1}))
    with pytest.raises(BadRequest, match="extra"):
        SweepManifest.load(tmp_path)
    bad_index = {"grid": {}, "tasks": [{"index": 1, "params": {}, "output": "x.ipynb"}]}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(bad_index))
    with pytest.raises(BadRequest, match="task indexes"):
        SweepManifest.load(tmp_path)
