"""The package layout reads as the pipeline: every import in src/musicgenre points down the flow.

Each module belongs to a layer (its package, or for the two top-level modules, itself); a
module may import from its own layer or a lower one, never a higher one. Every import counts:
module-level, inside functions, `from x import y` and `import x`, relative or absolute, found
by walking each file's syntax tree (nothing is imported to check it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers.paths import ROOT

PACKAGE = ROOT / "src" / "musicgenre"

# Lowest first: data flows raw -> interim -> features -> models -> reports.
LAYERS = ["core", "data", "features", "models", "inference", "training", "evaluation",
          "config", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def layer_of(module: str) -> str | None:
    """`musicgenre.data.split` -> 'data'; `musicgenre` itself (the package root) -> None."""
    parts = module.split(".")
    if parts[0] != "musicgenre" or len(parts) < 2:
        return None
    return "cli" if parts[1] == "__main__" else parts[1]  # `python -m musicgenre`: the CLI


def module_name(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path, package).split(".")
    parent = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = parent[:len(parent) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module in ("musicgenre", *(f"musicgenre.{layer}" for layer in LAYERS)):
                # from musicgenre import data / from musicgenre.training import loop
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_declared_layer():
    stray = [module_name(p) for p in all_modules()
             if layer_of(module_name(p)) not in RANK and module_name(p) != "musicgenre"]
    assert not stray, f"modules outside the declared layers {LAYERS}: {stray}"


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: module_name(p))
def test_imports_point_down_the_flow(path):
    own = layer_of(module_name(path))
    upward = []
    for line, module in imported_modules(path):
        target = layer_of(module)
        if own in RANK and target in RANK and RANK[target] > RANK[own]:
            upward.append(f"line {line}: {module} ({target} is above {own})")
    assert not upward, f"{module_name(path)} imports up the flow: " + "; ".join(upward)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    """The walk must find imports hidden inside functions and relative ones, or the test
    above proves nothing."""
    probe = tmp_path / "musicgenre" / "data" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("import numpy\n"
                     "def f():\n    from musicgenre.training import loop\n"
                     "class C:\n    def g(self):\n        import musicgenre.cli\n"
                     "from ..evaluation import report\nfrom . import split\n")
    found = sorted(m for _, m in imported_modules(probe, tmp_path / "musicgenre"))
    assert found == ["musicgenre.cli", "musicgenre.data.split", "musicgenre.evaluation.report",
                     "musicgenre.training.loop", "numpy"]
    assert [layer_of(m) for m in found[:4]] == ["cli", "data", "evaluation", "training"]
