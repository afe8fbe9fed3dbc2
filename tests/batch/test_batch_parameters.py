"""Parameters from -p/-r/-f, typed and merged exactly as papermill's CLI does."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from papermill.cli import _resolve_type as papermill_resolve_type

from adrastea.batch import check_name, load_yaml_mapping, parse_parameters, resolve_type
from adrastea.errors import BadRequest, ParameterError

TRICKY_VALUES = [
    "True",
    "False",
    "None",
    "true",
    "none",
    "0",
    "-1",
    "+3",
    " 7 ",
    "1_000",
    "007",
    "0x10",
    "\u0661\u0662",  # Arabic-Indic digits: int() takes them
    "1.5",
    "-0.0",
    "1e3",
    "1E-3",
    ".5",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1.0.0",
    "",
    " ",
    "abc",
    "[1, 2]",
    "{'a': 1}",
    "1/2",
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text", TRICKY_VALUES)
def test_resolve_type_matches_papermill(text: str) -> None:
    ours, theirs = resolve_type(text), papermill_resolve_type(text)
    assert _same(ours, theirs), (text, ours, theirs)


def test_resolve_type_examples() -> None:
    assert resolve_type("5") == 5
    assert resolve_type("0.1") == 0.1
    assert resolve_type("True") is True
    assert resolve_type("None") is None
    assert resolve_type("hello world") == "hello world"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_merge_order_is_files_then_p_then_r(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", "x: 1\ny: [1, 2]\nz: {k: v}\nw: from-a\n")
    second = _write(tmp_path, "b.yaml", "w: from-b\nv: null\n")
    merged = parse_parameters(
        raw=[("x", "raw"), ("r", "5")],
        values=[("x", "2"), ("p", "2.5"), ("r", "7")],
        files=[first, second],
    )
    # -r beats -p beats -f, whatever order the caller lists them in.
    assert merged == {
        "x": "raw",
        "y": [1, 2],
        "z": {"k": "v"},
        "w": "from-b",
        "v": None,
        "p": 2.5,
        "r": "5",
    }
    assert list(merged) == ["x", "y", "z", "w", "v", "p", "r"]


def test_base_values_are_overridden(tmp_path: Path) -> None:
    assert parse_parameters(base={"a": 1, "b": 2}, values=[("b", "3")]) == {"a": 1, "b": 3}


def test_yaml_keeps_dates_as_strings_and_reads_json(tmp_path: Path) -> None:
    yaml_file = _write(tmp_path, "p.yaml", "day: 2024-01-31\nwhen: 2024-01-31 10:00:00\n")
    assert load_yaml_mapping(yaml_file) == {"day": "2024-01-31", "when": "2024-01-31 10:00:00"}
    json_file = _write(tmp_path, "p.json", '{"a": [1, 2.5, null], "b": {"c": true}}')
    assert load_yaml_mapping(json_file) == {"a": [1, 2.5, None], "b": {"c": True}}


def test_empty_yaml_is_no_parameters(tmp_path: Path) -> None:
    assert parse_parameters(files=[_write(tmp_path, "e.yaml", "# nothing\n")]) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n- 2\n", "must hold a mapping of names to values, not list"),
        ("just a string\n", "not str"),
        ("a: [1, 2\n", "is not valid YAML at line"),
        ("1: one\n", "name 1 is not a string"),
        ("not-an-id: 1\n", "'not-an-id' is not a valid identifier"),
    ],
)
def test_bad_yaml_is_refused_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ParameterError) as info:
        parse_parameters(files=[path])
    assert message in info.value.detail
    assert str(path) in info.value.detail
    assert "\n" not in info.value.detail


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        parse_parameters(files=[tmp_path / "nope.yaml"])


@pytest.mark.parametrize("name", ["1x", "a-b", "a b", "", "class", "None", "x.y"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ParameterError, match="not a valid identifier"):
        parse_parameters(values=[(name, "1")])
    with pytest.raises(ParameterError, match="not a valid identifier"):
        parse_parameters(raw=[(name, "1")])


def test_parameter_error_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        check_name("no good")
    assert info.value.status == 400
    assert info.value.code == "invalid-parameter"


def test_good_names_pass() -> None:
    for name in ["a", "_private", "alpha_2", "\u00e9t\u00e9"]:
        assert check_name(name) == name
