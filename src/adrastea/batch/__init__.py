"""Headless parameterised runs and sweeps: the pure building blocks.

Parameters are read and injected as papermill does (``-p``/``-r``/``-f``, the
``parameters`` and ``injected-parameters`` cell tags), so notebooks move freely
between the two tools.  A sweep is a grid expanded into tasks recorded in a
manifest; ``record`` in a notebook leaves named results that ``collect`` gathers
into a table, CSV, Parquet and an HTML report.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from adrastea.batch._parameters import (
        check_name,
        load_yaml_mapping,
        parse_parameters,
        resolve_type,
    )
    from adrastea.batch._record import RECORD_MIME, read_records, record, record_bundle
    from adrastea.batch._report import render_report, write_report
    from adrastea.batch._tables import write_csv, write_parquet

_LAZY = {
    "Grid": "adrastea.batch._grid",
    "INJECTED_TAG": "adrastea.batch._inject",
    "Injection": "adrastea.batch._inject",
    "MANIFEST_NAME": "adrastea.batch._manifest",
    "PARAMETERS_TAG": "adrastea.batch._inject",
    "RECORD_MIME": "adrastea.batch._record",
    "SweepManifest": "adrastea.batch._manifest",
    "SweepTable": "adrastea.batch._collect",
    "SweepTask": "adrastea.batch._manifest",
    "TaskResult": "adrastea.batch._collect",
    "TaskState": "adrastea.batch._manifest",
    "TaskStatus": "adrastea.batch._collect",
    "build_grid": "adrastea.batch._grid",
    "check_name": "adrastea.batch._parameters",
    "collect": "adrastea.batch._collect",
    "expand_grid": "adrastea.batch._grid",
    "inject_parameters": "adrastea.batch._inject",
    "load_grid_file": "adrastea.batch._grid",
    "load_yaml_mapping": "adrastea.batch._parameters",
    "notebook_language": "adrastea.batch._inject",
    "params_slug": "adrastea.batch._grid",
    "parse_grid_option": "adrastea.batch._grid",
    "parse_parameters": "adrastea.batch._parameters",
    "read_records": "adrastea.batch._record",
    "read_task": "adrastea.batch._collect",
    "record": "adrastea.batch._record",
    "record_bundle": "adrastea.batch._record",
    "render_parameters": "adrastea.batch._inject",
    "render_report": "adrastea.batch._report",
    "resolve_type": "adrastea.batch._parameters",
    "task_filename": "adrastea.batch._grid",
    "write_csv": "adrastea.batch._tables",
    "write_parquet": "adrastea.batch._tables",
    "write_report": "adrastea.batch._report",
}

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


def __getattr__(name: str) -> Any:
    # Imported on first use: `adrastea run` must start fast, and most commands
    # need only a few of these.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'adrastea.batch' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
