"""Functions a newcomer can read: none over ~60 lines or 6 parameters without a reason.

A function that must be long, or take many parameters, says why in its docstring, in a
sentence starting "Why " (e.g. "Why eight parameters: ..."). The CLI's commands are exempt
from the parameter count: each option is a parameter by typer's design.
"""

from __future__ import annotations

import ast

import pytest

from helpers.paths import ROOT

MAX_LINES = 60
MAX_PARAMETERS = 6
SOURCES = sorted((ROOT / "src" / "musicgenre").rglob("*.py")) + sorted((ROOT / "stages")
                                                                      .glob("*.py"))


def parameter_count(node: ast.FunctionDef) -> int:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return len([n for n in names if n not in ("self", "cls")])


def is_cli_command(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
               and d.func.attr == "command" for d in node.decorator_list)


def oversized(path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        lines = node.end_lineno - node.lineno + 1
        params = 0 if is_cli_command(node) else parameter_count(node)
        if lines <= MAX_LINES and params <= MAX_PARAMETERS:
            continue
        doc = ast.get_docstring(node) or ""
        if "Why " not in doc:
            found.append(f"{node.name} (line {node.lineno}: {lines} lines, {params} parameters)")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_oversized_function_without_a_reason(path):
    found = oversized(path)
    assert not found, f"{path.name}: say why in the docstring, or split: {found}"


def test_the_check_finds_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    reasoned = 'def g(a, b, c, d, e, f, g):\n    """Why seven: a test."""\n'
    (tmp_path / "a.py").write_text(f"def f(a, b, c, d, e, f, g):\n{body}\n\n{reasoned}")
    assert oversized(tmp_path / "a.py") == ["f (line 1: 71 lines, 7 parameters)"]
