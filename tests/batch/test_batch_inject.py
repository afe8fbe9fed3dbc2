"""Injection compared with papermill's own ``--prepare-only`` output on the same notebook."""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from adrastea.batch import INJECTED_TAG, inject_parameters, notebook_language, render_parameters
from adrastea.errors import InvalidNotebook, ParameterError

KERNELS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "python": ({"name": "python3", "display_name": "Python 3", "language": "python"}, {}),
    "R": ({"name": "ir", "display_name": "R", "language": "R"}, {"name": "R"}),
    "bash": ({"name": "bash", "display_name": "Bash", "language": "bash"}, {"name": "bash"}),
}

PARAMS_SOURCE = {
    "python": "alpha = 0.5\nn: int = 3  # how many\n",
    "R": "alpha <- 0.5\nn = 3\n",
    "bash": "alpha=0.5\nexport n=3\n",
}

SCALARS: dict[str, Any] = {
    "n": 5,
    "negative": -3,
    "big": 2**70,
    "alpha": 0.1,
    "tiny": 1e-20,
    "whole": 2.0,
    "not_a_number": float("nan"),
    "infinite": float("inf"),
    "minus_infinite": float("-inf"),
    "flag": True,
    "off": False,
    "nothing": None,
    "text": "plain",
    "empty": "",
    "quotes": 'it\'s "quoted"',
    "escapes": "back\\slash\nnew line\ttab",
    "unicode": "\u00e9t\u00e9 \u2603 \U0001f600",
    "shell": "$(rm -rf /); `x` * ?",
}
LISTS: dict[str, Any] = {
    "items": [1, 2.5, "x", None, True],
    "nested": [[1, 2], ["a"]],
    "empty_list": [],
}
DICTS: dict[str, Any] = {
    "config": {"a": 1, "b": [1, "two"], "c": {"d": None, "e": False}},
    "empty_dict": {},
}


def values_for(language: str) -> dict[str, Any]:
    # papermill's bash translator has no literal for a mapping either.
    return {**SCALARS, **LISTS, **({} if language == "bash" else DICTS)}


def make_notebook(
    language: str,
    *,
    tagged: bool = True,
    minor: int = 5,
    extra_cells: list[Any] | None = None,
) -> Any:
    kernelspec, language_info = KERNELS[language]
    nb = new_notebook()
    nb.nbformat_minor = minor
    nb.metadata.kernelspec = dict(kernelspec)
    if language_info:
        nb.metadata.language_info = dict(language_info)
    params = new_code_cell(PARAMS_SOURCE[language])
    if tagged:
        params.metadata.tags = ["parameters"]
    nb.cells = [new_markdown_cell("# A study"), params, new_code_cell("echo done")]
    nb.cells.extend(extra_cells or [])
    if minor < 5:
        for cell in nb.cells:
            del cell["id"]
    return nb


def papermill_prepare(
    tmp_path: Path, nb: Any, parameters: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> tuple[Any, list[str]]:
    """papermill's --prepare-only on ``nb`` (written to a file): the notebook and its warnings."""
    path = tmp_path / "input.ipynb"
    nbformat.write(nb, path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="papermill"):
        out = papermill.execute_notebook(
            str(path), None, parameters=parameters, prepare_only=True, progress_bar=False
        )
    return out, [r.getMessage() for r in caplog.records if r.name.startswith("papermill")]


def injected_index(nb: Any) -> int:
    indexes = [
        i for i, c in enumerate(nb["cells"]) if INJECTED_TAG in c["metadata"].get("tags", [])
    ]
    assert len(indexes) == 1
    return indexes[0]


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def assert_same_injection(ours: Any, theirs: Any) -> None:
    i, j = injected_index(ours), injected_index(theirs)
    assert i == j
    assert ours["cells"][i]["source"] == theirs["cells"][j]["source"]
    assert ours["cells"][i]["metadata"]["tags"] == theirs["cells"][j]["metadata"]["tags"]
    assert ours["cells"][i]["cell_type"] == "code"
    assert ours["cells"][i]["outputs"] == []
    assert ours["cells"][i]["execution_count"] is None
    assert [c["source"] for c in ours["cells"]] == [c["source"] for c in theirs["cells"]]
    assert as_json(ours["metadata"]["papermill"]["parameters"]) == as_json(
        theirs["metadata"]["papermill"]["parameters"]
    )


@pytest.mark.parametrize(
    ("language", "group"),
    [
        (language, group)
        for language in ["python", "R", "bash"]
        for group in ["scalars", "lists", "dicts", "all"]
        # bash has no mapping literal; see test_bash_refuses_a_dict.
        if (language, group) != ("bash", "dicts")
    ],
)
def test_injection_matches_papermill(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, language: str, group: str
) -> None:
    chosen = {"scalars": SCALARS, "lists": LISTS, "dicts": DICTS, "all": values_for(language)}
    parameters = dict(chosen[group])
    nb = make_notebook(language)
    theirs, _ = papermill_prepare(tmp_path, nb, parameters, caplog)
    result = inject_parameters(nb, parameters)
    assert_same_injection(result.notebook, theirs)
    assert render_parameters(nb, parameters) == theirs["cells"][2]["source"]


@pytest.mark.parametrize("language", ["python", "R", "bash"])
def test_one_value_at_a_time_matches_papermill(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, language: str
) -> None:
    nb = make_notebook(language)
    for name, value in values_for(language).items():
        theirs, _ = papermill_prepare(tmp_path, nb, {name: value}, caplog)
        assert render_parameters(nb, {name: value}) == theirs["cells"][2]["source"], name


def test_r_drops_leading_underscores_like_papermill(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nb = make_notebook("R")
    theirs, _ = papermill_prepare(tmp_path, nb, {"__hidden": 1}, caplog)
    ours = inject_parameters(nb, {"__hidden": 1})
    assert_same_injection(ours.notebook, theirs)
    assert "hidden = 1" in ours.notebook["cells"][2]["source"]


@pytest.mark.parametrize("language", ["python", "R", "bash"])
def test_no_parameters_cell_injects_at_the_top(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, language: str
) -> None:
    nb = make_notebook(language, tagged=False)
    theirs, messages = papermill_prepare(tmp_path, nb, {"n": 1}, caplog)
    result = inject_parameters(nb, {"n": 1})
    assert injected_index(result.notebook) == 0
    assert_same_injection(result.notebook, theirs)
    assert any("does not contain a cell with tag 'parameters'" in m for m in messages)
    assert result.warnings == (
        "the notebook has no cell tagged 'parameters'; parameters were injected at the top",
    )


@pytest.mark.parametrize("language", ["python", "R", "bash"])
def test_an_earlier_injected_cell_is_replaced_in_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, language: str
) -> None:
    old = new_code_cell("# Parameters\nn = 0\n", metadata={"tags": [INJECTED_TAG]})
    nb = make_notebook(language, extra_cells=[old])
    theirs, _ = papermill_prepare(tmp_path, nb, {"n": 1, "s": "x"}, caplog)
    result = inject_parameters(nb, {"n": 1, "s": "x"})
    assert injected_index(result.notebook) == 3
    assert len(result.notebook["cells"]) == 4
    assert_same_injection(result.notebook, theirs)


def test_injecting_twice_keeps_one_cell() -> None:
    nb = make_notebook("python")
    once = inject_parameters(nb, {"alpha": 1}).notebook
    twice = inject_parameters(once, {"alpha": 2}).notebook
    assert len(twice["cells"]) == 4
    assert twice["cells"][2]["source"] == "# Parameters\nalpha = 2\n"
    assert twice["metadata"]["papermill"]["parameters"] == {"alpha": 2}


def test_input_is_not_modified_and_output_is_valid() -> None:
    nb = make_notebook("python")
    before = copy.deepcopy(nb)
    result = inject_parameters(nb, {"alpha": 1.5, "items": [1, 2]})
    assert nb == before
    out = nbformat.from_dict(result.notebook)
    nbformat.validate(out)
    ids = [c["id"] for c in out.cells]
    assert len(set(ids)) == len(ids)
    # A round trip through nbformat keeps everything, including the bookkeeping.
    again = nbformat.reads(nbformat.writes(out), as_version=4)
    assert again == out


def test_old_minor_format_gets_no_cell_id() -> None:
    nb = make_notebook("python", minor=4)
    result = inject_parameters(nb, {"alpha": 1})
    assert "id" not in result.notebook["cells"][2]
    nbformat.validate(nbformat.from_dict(result.notebook))


def test_existing_papermill_metadata_is_kept() -> None:
    nb = make_notebook("python")
    nb.metadata.papermill = {"default_parameters": {}, "version": "2.6.0", "parameters": {"x": 1}}
    result = inject_parameters(nb, {"alpha": 2})
    assert result.notebook["metadata"]["papermill"] == {
        "default_parameters": {},
        "version": "2.6.0",
        "parameters": {"alpha": 2},
    }


def test_python_unknown_parameter_warnings_match_papermill(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nb = make_notebook("python")
    parameters = {"alpha": 1, "n": 2, "beta": 3, "gamma": 4}
    _, messages = papermill_prepare(tmp_path, nb, parameters, caplog)
    ours = inject_parameters(nb, parameters).warnings
    assert ours == tuple(m for m in messages if m.startswith("Passed unknown parameter"))
    assert ours == ("Passed unknown parameter: beta", "Passed unknown parameter: gamma")


def _unknown(language: str, source: str, names: list[str]) -> list[str]:
    nb = make_notebook(language)
    nb.cells[1].source = source
    warnings = inject_parameters(nb, dict.fromkeys(names, 1)).warnings
    return [w.removeprefix("Passed unknown parameter: ") for w in warnings]


def test_python_names_are_found_with_ast() -> None:
    source = (
        "%matplotlib inline\n"
        "!echo hi\n"
        "a = 1\n"
        "b: float = 2.0\n"
        "c, (d, e) = 1, (2, 3)\n"
        "if True:\n"
        "    f = {\n"
        "        'k': 1,\n"
        "    }\n"
        "def helper():\n"
        "    inner = 1\n"
        "[hidden for hidden in range(3)]\n"
        "g = h = 0\n"
        "(w := 5)\n"
    )
    names = ["a", "b", "c", "d", "e", "f", "g", "h", "w", "inner", "hidden", "z"]
    assert _unknown("python", source, names) == ["inner", "hidden", "z"]


def test_python_that_does_not_parse_falls_back_to_lines() -> None:
    assert _unknown("python", "a = 1\nb = (\n", ["a", "b", "c"]) == ["c"]


def test_r_names_are_found() -> None:
    source = "a <- 1\nb = 2\nmy.var <<- 3\n`odd name` <- 4\nx == 5\n# c <- 6\n"
    assert _unknown("R", source, ["a", "b", "x", "c", "_a"]) == ["x", "c"]


def test_bash_names_are_found() -> None:
    source = "a=1\nexport b=2\ndeclare -a arr=(1 2)\nlocal c\nd+=x\n[ e = 1 ]\n"
    assert _unknown("bash", source, ["a", "b", "arr", "c", "d", "e"]) == ["c", "e"]


def test_bash_refuses_a_dict() -> None:
    with pytest.raises(ParameterError, match="parameter 'config': bash has no literal"):
        inject_parameters(make_notebook("bash"), {"config": {"a": 1}})


def test_other_languages_are_refused_by_name() -> None:
    nb = make_notebook("python")
    nb.metadata.kernelspec = {"name": "julia-1.10", "language": "julia", "display_name": "Julia"}
    nb.metadata.language_info = {"name": "julia"}
    with pytest.raises(ParameterError, match=re.escape("language 'julia' (kernel 'julia-1.10')")):
        inject_parameters(nb, {"a": 1})


def test_language_comes_from_language_info_then_kernelspec() -> None:
    nb = make_notebook("python")
    assert notebook_language(nb) == ("python3", "python")
    nb.metadata.language_info = {"name": "R"}
    assert notebook_language(nb) == ("python3", "R")
    del nb.metadata["kernelspec"]
    del nb.metadata["language_info"]
    with pytest.raises(ParameterError, match="names no language"):
        inject_parameters(nb, {"a": 1})


def test_kernel_name_wins_over_language() -> None:
    nb = make_notebook("python")
    nb.metadata.kernelspec["name"] = "bash"
    assert inject_parameters(nb, {"a": "x y"}).notebook["cells"][2]["source"] == (
        "# Parameters\na='x y'\n"
    )


def test_bad_names_and_notebooks_are_refused() -> None:
    with pytest.raises(ParameterError, match="not a valid identifier"):
        inject_parameters(make_notebook("python"), {"bad-name": 1})
    with pytest.raises(InvalidNotebook):
        inject_parameters({"nbformat": 3, "worksheets": []}, {"a": 1})
