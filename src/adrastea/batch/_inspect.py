"""The names a notebook's ``parameters`` cell assigns, to warn about unknown parameters.

Python is parsed with ``ast`` (IPython magics and shell escapes are blanked out
first); R and bash, and Python that still does not parse, are read line by line
with a regular expression, which finds the usual ``name = value`` /
``name <- value`` / ``name=value`` forms and nothing cleverer.
"""

from __future__ import annotations

import ast
import re

_PY_LINE = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)")
_R_LINE = re.compile(r"^\s*([A-Za-z.][\w.]*|`[^`]+`)\s*(?:<<?-|=(?!=))")
_BASH_LINE = re.compile(
    r"^\s*(?:(?:export|local|readonly|declare|typeset)(?:\s+-\w+)*\s+)?"
    r"([A-Za-z_]\w*)(?:\[[^\]]*\])?\+?="
)
# Lines IPython rewrites before Python sees them: %magic, %%cell magic, !shell.
_IPYTHON_LINE = re.compile(r"^\s*[%!]")


# Names bound inside these belong to another scope.
_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _module_scope_names(tree: ast.AST) -> set[str]:
    """Names bound in the module scope, including inside if/for/try/with blocks."""
    names: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def python_names(source: str) -> set[str]:
    """Names a Python ``parameters`` cell assigns at module scope."""
    cleaned = "\n".join("" if _IPYTHON_LINE.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        return {m.group(1) for line in source.splitlines() if (m := _PY_LINE.match(line))}
    return _module_scope_names(tree)


def r_names(source: str) -> set[str]:
    """Names an R ``parameters`` cell assigns with ``=``, ``<-`` or ``<<-`` (best effort)."""
    return {m.group(1).strip("`") for line in source.splitlines() if (m := _R_LINE.match(line))}


def bash_names(source: str) -> set[str]:
    """Names a bash ``parameters`` cell assigns (best effort)."""
    return {m.group(1) for line in source.splitlines() if (m := _BASH_LINE.match(line))}


def assigned_names(source: str, language: str) -> set[str]:
    """Names a ``parameters`` cell in ``language`` (a translator's language) assigns."""
    if language == "python":
        return python_names(source)
    if language == "R":
        return r_names(source)
    return bash_names(source)
