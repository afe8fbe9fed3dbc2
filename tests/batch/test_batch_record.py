"""``record`` in a notebook, ``read_records`` on the saved outputs."""

from __future__ import annotations

import json
import math
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook, new_output

from adrastea.batch import RECORD_MIME, read_records, record, record_bundle


class FakeScalar:
    """Stands in for a numpy scalar: only ``tolist`` matters."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def tolist(self) -> Any:
        return self.value


def test_bundle_has_our_mime_and_a_text_fallback() -> None:
    bundle = record_bundle("loss", 0.25)
    assert bundle == {RECORD_MIME: {"name": "loss", "value": 0.25}, "text/plain": "loss = 0.25"}
    json.dumps(bundle, allow_nan=False)  # what the wire protocol needs


def test_bundle_values_become_plain_json() -> None:
    value = {"a": (1, 2), "b": [FakeScalar(3.5)], 4: None, "s": "x"}
    assert record_bundle("cfg", value)[RECORD_MIME]["value"] == {
        "a": [1, 2],
        "b": [3.5],
        "4": None,
        "s": "x",
    }
    assert record_bundle("arr", FakeScalar([1, 2]))[RECORD_MIME]["value"] == [1, 2]


@pytest.mark.parametrize(
    ("value", "text"),
    [(float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity")],
)
def test_non_finite_floats_survive_json(value: float, text: str) -> None:
    bundle = record_bundle("x", value)
    assert bundle[RECORD_MIME] == {"name": "x", "value": text, "nonfinite": True}
    json.dumps(bundle, allow_nan=False)
    nb = _notebook_with([_display(bundle)])
    back = read_records(nb)["x"]
    assert isinstance(back, float)
    assert (math.isnan(back) and math.isnan(value)) or back == value
    # A numpy-like float32 scalar is a float too.
    assert record_bundle("x", FakeScalar(value))[RECORD_MIME].get("nonfinite") is True


def test_nested_non_finite_floats_become_strings() -> None:
    assert record_bundle("x", [1.0, float("nan")])[RECORD_MIME]["value"] == [1.0, "NaN"]
    assert read_records(_notebook_with([_display(record_bundle("x", [float("inf")]))])) == {
        "x": ["Infinity"]
    }


def test_bad_names_and_values_are_refused() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        record_bundle(3, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        record_bundle("", 1)
    with pytest.raises(TypeError, match="a object cannot be stored as JSON"):
        record_bundle("x", object())
    with pytest.raises(TypeError, match=r"record 'x'\['k'\]\[0\]: a set"):
        record_bundle("x", {"k": [{1}]})
    with pytest.raises(TypeError, match="key"):
        record_bundle("x", {(1, 2): 3})


def test_text_fallback_is_short() -> None:
    text = record_bundle("long", "x" * 10_000)["text/plain"]
    assert len(text) < 120


@pytest.mark.slow  # the first import of IPython
def test_outside_ipython_record_prints(capsys: pytest.CaptureFixture[str]) -> None:
    record("answer", 42)
    assert capsys.readouterr().out == "answer = 42\n"


def _display(bundle: dict[str, Any]) -> Any:
    return new_output("display_data", data=bundle)


def _notebook_with(outputs: list[Any]) -> Any:
    nb = new_notebook()
    nb.cells = [new_code_cell("", outputs=outputs, execution_count=1)]
    return nb


def test_read_records_last_wins_and_tolerates_junk() -> None:
    nb = new_notebook()
    nb.cells = [
        new_code_cell(
            outputs=[
                _display(record_bundle("loss", 1.0)),
                new_output("stream", name="stdout", text="hi\n"),
                new_output("display_data", data={RECORD_MIME: {"value": 1}}),  # no name
                new_output("display_data", data={RECORD_MIME: "not json"}),
                new_output("display_data", data={"text/plain": "plain"}),
            ]
        ),
        {"cell_type": "markdown", "metadata": {}, "source": "x"},
        new_code_cell(
            outputs=[
                new_output(
                    "execute_result",
                    data={RECORD_MIME: json.dumps({"name": "acc", "value": 0.9})},
                    execution_count=2,
                ),
                _display(record_bundle("loss", 0.5)),
            ]
        ),
    ]
    assert read_records(nb) == {"loss": 0.5, "acc": 0.9}
    assert read_records({}) == {}


@pytest.mark.slow
def test_round_trip_through_a_real_kernel() -> None:
    nb = new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell("from adrastea.batch import record\nrecord('loss', 0.5)\nrecord('n', 3)"),
        new_code_cell(
            "record('loss', 0.25)\n"
            "record('diverged', float('nan'))\n"
            "record('cfg', {'layers': [64, 32], 'name': 'mlp', 'drop': None})"
        ),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert [o.output_type for o in outputs] == ["display_data"] * 5
    assert outputs[0].data["text/plain"] == "loss = 0.5"
    records = read_records(nb)
    assert math.isnan(records.pop("diverged"))
    assert records == {
        "loss": 0.25,
        "n": 3,
        "cfg": {"layers": [64, 32], "name": "mlp", "drop": None},
    }
    # Saved and read back by nbformat, the records are still there.
    nbformat.validate(nb)
    again = nbformat.reads(nbformat.writes(nb), as_version=4)
    assert read_records(again)["cfg"]["layers"] == [64, 32]
