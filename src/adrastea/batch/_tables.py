"""A sweep table written as CSV (always) and Parquet (when pyarrow is installed)."""

from __future__ import annotations

import csv
import importlib
import io
import json
from pathlib import Path
from typing import Any

from adrastea.batch._atomic import atomic_path
from adrastea.batch._collect import SweepTable
from adrastea.batch._sink import write_atomically as write_atomic


def csv_cell(value: Any) -> str:
    """A value as CSV text: empty for None, JSON for lists and dicts, else ``str``."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def write_csv(table: SweepTable, path: Path) -> Path:
    """Write ``table`` as UTF-8 CSV with a header row, atomically; return ``path``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    columns = table.columns()
    writer.writerow(columns)
    for row in table.rows():
        writer.writerow([csv_cell(row[column]) for column in columns])
    write_atomic(Path(path), buffer.getvalue().encode("utf-8"))
    return Path(path)


def _column(pa: Any, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.bool_())
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    if present and numbers:
        kind = pa.int64() if all(isinstance(v, int) for v in present) else pa.float64()
        try:
            return pa.array(values, type=kind)
        except (OverflowError, pa.ArrowInvalid):
            pass  # an int beyond 64 bits: fall through to text
    if all(isinstance(v, str) for v in present):
        return pa.array(values, type=pa.string())
    # Mixed or nested values: JSON text keeps them all, losslessly.
    return pa.array(
        [None if v is None else json.dumps(v, sort_keys=True, default=str) for v in values],
        type=pa.string(),
    )


def write_parquet(table: SweepTable, path: Path) -> bool:
    """Write ``table`` as Parquet, atomically, if pyarrow is importable.

    Columns of bools, ints or floats keep their type (ints mixed with floats
    become floats); anything else is text, lists and dicts as JSON.

    Returns:
        Whether the file was written (False when pyarrow is not installed).
    """
    try:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        return False
    columns = table.columns()
    rows = list(table.rows())
    arrow = pa.table({name: _column(pa, [row[name] for row in rows]) for name in columns})
    with atomic_path(Path(path)) as tmp:
        pq.write_table(arrow, str(tmp))
    return True
