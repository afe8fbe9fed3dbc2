"""A self-contained HTML report of a sweep: the table and one plot per record and parameter.

Plots are PNGs inline as base64 ``data:`` URIs, so the report is one file that
can be mailed or opened from a cluster's scratch space.  matplotlib is imported
only here, and only its object API is used (no ``pyplot``), so drawing touches
no global state and needs no display.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

from adrastea.batch._collect import SweepTable
from adrastea.batch._sink import write_atomically as write_atomic
from adrastea.batch._tables import csv_cell

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
tr.failed td { background: #fdecea; }
tr.missing td { color: #888; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
"""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _png(x_name: str, y_name: str, xs: list[Any], ys: list[float]) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 3.2), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    if all(_is_number(x) for x in xs):
        axes.plot(xs, ys, "o")
    else:
        # Categories, in order of first appearance.
        labels = list(dict.fromkeys(csv_cell(x) for x in xs))
        axes.plot([labels.index(csv_cell(x)) for x in xs], ys, "o")
        axes.set_xticks(range(len(labels)), labels)
    axes.set_xlabel(x_name)
    axes.set_ylabel(y_name)
    axes.set_title(f"{y_name} vs {x_name}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _finite(value: Any) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(value) else None


def plot_pairs(table: SweepTable) -> list[tuple[str, str, list[Any], list[float]]]:
    """(parameter, record, xs, ys) for each numeric record against each swept name.

    Only ``ok`` tasks count, and only their finite numbers; a pair with no such
    point is left out.
    """
    ok = [result for result in table.results if result.status == "ok"]
    pairs = []
    for record in table.record_names():
        for name in table.swept:
            points = [
                (result.params[name], y)
                for result in ok
                if name in result.params and (y := _finite(result.records.get(record))) is not None
            ]
            if points:
                pairs.append((name, record, [x for x, _ in points], [y for _, y in points]))
    return pairs


def _table_html(table: SweepTable) -> str:
    columns = table.columns()
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in table.rows():
        cells = "".join(f"<td>{html.escape(csv_cell(row[c]))}</td>" for c in columns)
        body.append(f'<tr class="{html.escape(row["status"])}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_report(table: SweepTable, *, title: str = "Sweep report") -> str:
    """The report as an HTML document (a string); see ``write_report``."""
    counts = {s: sum(r.status == s for r in table.results) for s in ("ok", "failed", "missing")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    swept = ", ".join(table.swept) or "none"
    figures = [
        f'<figure><img alt="{html.escape(f"{y} vs {x}")}" '
        f'src="data:image/png;base64,{_png(x, y, xs, ys)}"></figure>'
        for x, y, xs, ys in plot_pairs(table)
    ]
    plots = (
        f'<h2>Plots</h2><div class="plots">{"".join(figures)}</div>'
        if figures
        else "<p>No numeric records to plot.</p>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{len(table.results)} tasks: {html.escape(summary)}. "
        f"Swept: {html.escape(swept)}.</p>"
        f"<h2>Results</h2>{_table_html(table)}{plots}"
        "</body></html>\n"
    )


def write_report(table: SweepTable, path: Path, *, title: str = "Sweep report") -> Path:
    """Write the self-contained HTML report of ``table`` to ``path``, atomically.

    The report holds a summary line, the full table (failed rows highlighted)
    and, for every numeric record, one scatter plot against each swept name.
    """
    write_atomic(Path(path), render_report(table, title=title).encode("utf-8"))
    return Path(path)
