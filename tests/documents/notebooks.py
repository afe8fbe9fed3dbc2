"""Notebooks for the documents tests, as the JSON text a file would hold."""

from __future__ import annotations

import json
from typing import Any

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg=="
)


def rich_notebook(minor: int = 5) -> dict[str, Any]:
    """Every kind of cell and output, odd metadata, and unicode; ids only for 4.5+."""
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "markdown",
            "id": "md-attach",
            "metadata": {"tags": ["intro"], "x-unknown": {"nested": [1, 2.5, None, True]}},
            "source": ["# Title ünïcödé 😀\n", "\n", "![img](attachment:dot.png)"],
            "attachments": {"dot.png": {"image/png": PNG, "text/plain": ["a dot\n", "!"]}},
        },
        {
            "cell_type": "raw",
            "id": "raw-1",
            "metadata": {"format": "text/x-rst", "raw_mimetype": "text/restructuredtext"},
            "source": "raw *text*\r\nwith CRLF\r\n",
        },
        {
            "cell_type": "code",
            "id": "code-1",
            "execution_count": 3,
            "metadata": {
                "collapsed": False,
                "scrolled": "auto",
                "tags": ["parameters"],
                "custom": {"float": 1.5, "int": 7, "big": 9007199254740991},
                "execution": {"iopub.status.busy": "2024-01-01T00:00:00.000Z"},
            },
            "source": ["import sys\n", "print('hi')\n", "sys.stderr.write('err')"],
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["hi\n", "there\n"]},
                {"output_type": "stream", "name": "stderr", "text": "err"},
                {
                    "output_type": "display_data",
                    "data": {
                        "image/png": PNG,
                        "text/plain": ["<Figure>"],
                        "text/html": ["<b>bold</b>\n", "<i>x</i>"],
                        "application/json": {"a": [1, 2, {"b": None}]},
                        "application/vnd.custom+json": {"k": "v"},
                        "image/svg+xml": ["<svg>\n", "</svg>"],
                    },
                    "metadata": {"image/png": {"width": 10, "height": 20}, "isolated": True},
                },
                {
                    "output_type": "execute_result",
                    "execution_count": 3,
                    "data": {"text/plain": ["42"]},
                    "metadata": {},
                },
                {
                    "output_type": "error",
                    "ename": "ValueError",
                    "evalue": "bad ünïcödé",
                    "traceback": ["\x1b[0;31mValueError\x1b[0m", "line 2"],
                },
            ],
        },
        {
            "cell_type": "code",
            "id": "code-2",
            "execution_count": None,
            "metadata": {},
            "source": "",
            "outputs": [],
        },
        {
            "cell_type": "markdown",
            "id": "md-empty-attach",
            "metadata": {},
            "source": "x",
            "attachments": {},
        },
    ]
    if minor < 5:
        for cell in cells:
            del cell["id"]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "x-tool": {"setting": [1, "two", {"three": 3.25}]},
            "title": "Rich",
        },
        "nbformat": 4,
        "nbformat_minor": minor,
    }


def as_text(nb: dict[str, Any]) -> str:
    """The file text, laid out as nbformat would (key order does not matter to readers)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
