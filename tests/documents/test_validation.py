"""The part-by-part schema check accepts exactly what nbformat's whole schema accepts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adrastea.documents import parse_notebook
from adrastea.documents._validation import _parts, _validator, check_schema
from adrastea.errors import InvalidNotebook

from .notebooks import as_text, rich_notebook

# Changes that break a notebook in the ways the schema cares about (and some it does
# not): each is (path into the notebook, new value or DELETE).
DELETE = object()
JUNK = st.sampled_from([None, 0, 1.5, True, "", "x", [], ["a"], {}, {"k": 1}, "code", "stream"])
KEYS = st.sampled_from(
    ["cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments",
     "output_type", "name", "text", "data", "ename", "evalue", "traceback", "extra", "tags",
     "collapsed", "scrolled", "jupyter", "execution", "nbformat", "nbformat_minor", "cells"]
)  # fmt: skip


def _containers(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found += _containers(item)
    elif isinstance(value, list):
        for item in value:
            found += _containers(item)
    return [item for item in found if isinstance(item, (dict, list))]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    minor = draw(st.sampled_from([4, 5]))
    nb = copy.deepcopy(parse_notebook(as_text(rich_notebook(minor))))
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(_containers(nb)))
        if isinstance(target, dict):
            key = draw(KEYS | st.sampled_from(sorted(target) or ["extra"]))
            if draw(st.booleans()) and key in target:
                del target[key]
            else:
                target[key] = copy.deepcopy(draw(JUNK))
        elif target:
            index = draw(st.integers(0, len(target) - 1))
            target[index] = copy.deepcopy(draw(JUNK))
    return nb, minor


def _whole_schema_accepts(nb: dict[str, Any], minor: int) -> bool:
    try:
        _validator(minor, None)(nb)
    except Exception:  # fastjsonschema's exceptions, or a TypeError on odd input
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(damaged())
def test_parts_accept_exactly_what_the_whole_schema_accepts(
    case: tuple[dict[str, Any], int],
) -> None:
    nb, minor = case
    parts = _parts(minor)
    assert parts is not None
    assert parts.valid(nb) == _whole_schema_accepts(nb, minor)


def test_an_invalid_cell_is_still_explained() -> None:
    nb = parse_notebook(as_text(rich_notebook()))
    nb["cells"][2]["outputs"][0]["name"] = 7
    with pytest.raises(InvalidNotebook, match=r"cells\[2\]\.outputs\[0\]"):
        check_schema(nb, 5)
