"""Headless parameterised runs and sweeps: the pure building blocks.

Parameters are read and injected as papermill does (``-p``/``-r``/``-f``, the
``parameters`` and ``injected-parameters`` cell tags), so notebooks move freely
between the two tools.  A sweep is a grid expanded into tasks recorded in a
manifest; ``record`` in a notebook leaves named results that ``collect`` gathers
into a table, CSV, Parquet and an HTML report.
"""

from __future__ import annotations

from adrastea.batch._collect import SweepTable, TaskResult, TaskStatus, collect, read_task
from adrastea.batch._grid import (
    Grid,
    build_grid,
    expand_grid,
    load_grid_file,
    params_slug,
    parse_grid_option,
    task_filename,
)
from adrastea.batch._inject import (
    INJECTED_TAG,
    PARAMETERS_TAG,
    Injection,
    inject_parameters,
    notebook_language,
    render_parameters,
)
from adrastea.batch._manifest import MANIFEST_NAME, SweepManifest, SweepTask, TaskState
from adrastea.batch._parameters import check_name, load_yaml_mapping, parse_parameters, resolve_type
from adrastea.batch._record import RECORD_MIME, read_records, record, record_bundle
from adrastea.batch._report import render_report, write_report
from adrastea.batch._tables import write_csv, write_parquet

__all__ = [
    "INJECTED_TAG",
    "MANIFEST_NAME",
    "PARAMETERS_TAG",
    "RECORD_MIME",
    "Grid",
    "Injection",
    "SweepManifest",
    "SweepTable",
    "SweepTask",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "build_grid",
    "check_name",
    "collect",
    "expand_grid",
    "inject_parameters",
    "load_grid_file",
    "load_yaml_mapping",
    "notebook_language",
    "params_slug",
    "parse_grid_option",
    "parse_parameters",
    "read_records",
    "read_task",
    "record",
    "record_bundle",
    "render_parameters",
    "render_report",
    "resolve_type",
    "task_filename",
    "write_csv",
    "write_parquet",
    "write_report",
]
