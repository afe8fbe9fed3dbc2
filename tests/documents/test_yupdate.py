"""A notebook written as one Y update builds the very document the prelims build."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, Map, Text

from adrastea.documents import dump_notebook, parse_notebook
from adrastea.documents._ynotebook import build_notebook, load_notebook, new_ynotebook

from .notebooks import as_text, rich_notebook

SESSION = {"session_id": "s-1"}

# Astral characters (two UTF-16 units each) move Y clocks differently from their
# UTF-8 length: the encoder must count them as Yjs does.
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["", "plain", "ünï 😀𝄞\n", "\x1b[31mred\x1b[0m\r\n", '"quote" \\ back']
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
METADATA = st.dictionaries(TEXT, JSON, max_size=4)
SOURCE = TEXT | st.lists(TEXT, max_size=3)


@st.composite
def outputs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["stream", "display_data", "execute_result", "error"]))
    if kind == "stream":
        return {"output_type": kind, "name": draw(st.sampled_from(["stdout", "stderr"])),
                "text": draw(SOURCE)}  # fmt: skip
    if kind == "error":
        return {"output_type": kind, "ename": draw(TEXT), "evalue": draw(TEXT),
                "traceback": draw(st.lists(TEXT, max_size=3))}  # fmt: skip
    output = {"output_type": kind, "data": draw(st.dictionaries(TEXT, JSON, max_size=3)),
              "metadata": draw(METADATA)}  # fmt: skip
    if kind == "execute_result":
        output["execution_count"] = draw(st.none() | st.integers(0, 10_000))
    return output


@st.composite
def cells(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["code", "markdown", "raw"]))
    cell: dict[str, Any] = {"cell_type": kind, "id": draw(TEXT), "metadata": draw(METADATA),
                            "source": draw(SOURCE)}  # fmt: skip
    if kind == "code":
        cell["execution_count"] = draw(st.none() | st.integers(0, 10_000))
        cell["outputs"] = draw(st.lists(outputs(), max_size=4))
    elif draw(st.booleans()):
        cell["attachments"] = {"a.png": {"image/png": draw(TEXT)}}
    return cell


NOTEBOOKS = st.fixed_dictionaries(
    {
        "cells": st.lists(cells(), max_size=6),
        "metadata": METADATA,
        "nbformat": st.just(4),
        "nbformat_minor": st.integers(0, 5),
    }
)


def by_prelims(nb: dict[str, Any]) -> YNotebook:
    notebook = new_ynotebook()
    load_notebook(notebook, nb)
    for key, value in SESSION.items():
        notebook.ystate[key] = value
    return notebook


def typed(value: Any) -> Any:
    """A Y value with the kind of every shared type spelled out."""
    if isinstance(value, Text):
        return ("Text", str(value))
    if isinstance(value, Map):
        return ("Map", {key: typed(value[key]) for key in value})
    if isinstance(value, Array):
        return ("Array", [typed(item) for item in value])
    return value


def assert_same(built: YNotebook, expected: YNotebook) -> None:
    for root in ("meta", "state"):
        assert typed(built.ydoc.get(root, type=Map)) == typed(expected.ydoc.get(root, type=Map))
    assert typed(built.ycells) == typed(expected.ycells)
    assert dump_notebook(built) == dump_notebook(expected)


@settings(max_examples=150, deadline=None)
@given(NOTEBOOKS)
def test_the_update_builds_what_the_prelims_build(nb: dict[str, Any]) -> None:
    built, update = build_notebook(nb, SESSION)
    assert_same(built, by_prelims(nb))
    # The update is the whole document: a client syncing from nothing gets the same.
    replica = YNotebook(Doc())
    replica.ydoc.apply_update(update)
    assert_same(replica, built)


def test_a_built_document_edits_like_any_other() -> None:
    nb = parse_notebook(as_text(rich_notebook()))
    built, _ = build_notebook(nb, SESSION)
    expected = by_prelims(nb)
    for notebook in (built, expected):
        notebook.ycells[1]["source"] += " and more"
        notebook.ycells[2]["outputs"][0]["text"] += "a later line\n"
        del notebook.ycells[0]
        notebook.ycells.append(notebook.create_ycell({"cell_type": "markdown", "source": "x"}))
    assert typed(built.ycells[:-1]) == typed(expected.ycells[:-1])
    assert built.ycells[-1]["source"].to_py() == "x"
    # The builder's items are the document's own: nothing is lost on resync.
    replica = YNotebook(Doc())
    replica.ydoc.apply_update(built.ydoc.get_update())
    assert dump_notebook(replica) == dump_notebook(built)


def test_text_yjs_cannot_hold_fails_as_the_prelims_fail() -> None:
    nb = parse_notebook(as_text(rich_notebook()))
    nb["cells"][1]["source"] = "lone \ud800 surrogate"  # valid JSON, no UTF-8 for it
    with pytest.raises(UnicodeEncodeError):
        by_prelims(nb)
    with pytest.raises(UnicodeEncodeError):
        build_notebook(nb, SESSION)
