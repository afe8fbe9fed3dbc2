"""Parameters rendered as source code in a kernel's language, as papermill renders them.

The text must equal what papermill's translators write (papermill without
``black`` installed; with it, papermill re-wraps long Python lines), so a notebook
parameterised by Adrastea and by papermill differs in nothing but cell ids.  The
rules below, including their oddities (a non-string dict key becomes a quoted
string, R drops leading underscores from names, bash renders None as nothing),
are papermill's.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adrastea.errors import ParameterError


class _Untranslatable(Exception):
    """A value with no literal in the target language; the caller adds the name."""


def _escaped(value: object) -> str:
    # papermill escapes with unicode_escape (not repr), so "é" becomes "\xe9".
    if isinstance(value, str):
        value = value.encode("unicode_escape").decode("utf-8").replace('"', r"\"")
    return f'"{value}"'


def _python(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return _escaped(value)
    if isinstance(value, bool):
        return f"{value}"
    if isinstance(value, int):
        return f"{value}"
    if isinstance(value, float):
        if math.isfinite(value):
            return f"{value}"
        if math.isnan(value):
            return "float('nan')"
        return "float('-inf')" if value < 0 else "float('inf')"
    if isinstance(value, dict):
        items = ", ".join(f"{_escaped(k)}: {_python(v)}" for k, v in value.items())
        return f"{{{items}}}"
    if isinstance(value, list):
        return f"[{', '.join(_python(v) for v in value)}]"
    return _escaped(value)


def _r(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return _escaped(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return f"{value}"
    if isinstance(value, dict):
        items = ", ".join(f"{_escaped(k)} = {_r(v)}" for k, v in value.items())
        return f"list({items})"
    if isinstance(value, list):
        return f"list({', '.join(_r(v) for v in value)})"
    return _escaped(value)


def _bash(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return shlex.quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value}"
    if isinstance(value, dict):
        raise _Untranslatable("bash has no literal for a mapping")
    if isinstance(value, list):
        return f"({' '.join(_bash(v) for v in value)})"
    return shlex.quote(str(value))


def _same(name: str) -> str:
    return name


def _r_name(name: str) -> str:
    # A leading "_" is not legal in an R name; papermill strips it.
    return name.lstrip("_")


@dataclass(frozen=True)
class Translator:
    """How one language writes a parameter: a literal, an assignment, a comment."""

    language: str
    literal: Callable[[Any], str]
    assignment: str  # a format string with {name} and {literal}
    rename: Callable[[str], str] = _same
    comment_prefix: str = "#"

    def render(self, parameters: Mapping[str, Any], comment: str = "Parameters") -> str:
        """The injected cell's source: a comment line, then one assignment a line.

        Raises:
            ParameterError: a value has no literal in this language (a dict in bash).
        """
        lines = [f"{self.comment_prefix} {comment}".strip()]
        for name, value in parameters.items():
            try:
                literal = self.literal(value)
            except _Untranslatable as exc:
                raise ParameterError(f"parameter {name!r}: {exc}") from None
            lines.append(self.assignment.format(name=self.rename(name), literal=literal))
        return "\n".join(lines) + "\n"


PYTHON = Translator("python", _python, "{name} = {literal}")
R = Translator("R", _r, "{name} = {literal}", rename=_r_name)
BASH = Translator("bash", _bash, "{name}={literal}")

# Keyed like papermill's registry: a kernel name is looked up first, then a language.
_TRANSLATORS: dict[str, Translator] = {
    "python": PYTHON,
    "R": R,
    "bash": BASH,
    "pysparkkernel": PYTHON,
    "sparkrkernel": R,
}


def find_translator(kernel_name: str | None, language: str | None) -> Translator:
    """The translator for a notebook, by kernel name first and then by language.

    Raises:
        ParameterError: neither names a supported language.
    """
    if kernel_name and kernel_name in _TRANSLATORS:
        return _TRANSLATORS[kernel_name]
    if language and language in _TRANSLATORS:
        return _TRANSLATORS[language]
    if not language:
        raise ParameterError(
            "cannot inject parameters: the notebook names no language "
            "(metadata.language_info.name or metadata.kernelspec.language)"
        )
    kernel = f" (kernel {kernel_name!r})" if kernel_name else ""
    raise ParameterError(
        f"cannot inject parameters into a notebook in language {language!r}{kernel}: "
        "only python, R and bash are supported"
    )
