"""dvc.yaml declares, for every stage, all library code the stage can run.

A module a stage imports (directly or through other modules, at the top or inside a
function) but does not declare would let a library change leave stale results behind. The
closure is computed from the source text, so it fails as soon as someone adds an import.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Plumbing that cannot change what a stage writes: exception classes, the stage runner,
# temp-name-then-rename writes, process settings (allocator). Listing them would rerun every
# stage for a reworded error message.
PLUMBING = {"musicgenre/__init__.py", "musicgenre/core/errors.py", "musicgenre/core/stage.py",
            "musicgenre/core/atomic.py", "musicgenre/core/process.py",
            # the packages' __init__ files: docstrings, each package's map
            *(f"musicgenre/{package}/__init__.py"
              for package in ("core", "data", "features", "inference", "training", "evaluation"))}
# config.py imports the model registry (musicgenre.models) for its names; a model's module is
# imported only when a stage parses that model's params section, and stages that read none
# never do.
MODEL_PARAMS_ONLY = ("musicgenre/config.py", "musicgenre.models")


def _module_file(name: str) -> Path | None:
    path = SRC.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Modules `path` imports, and module names it holds as strings (the model registry
    imports its models by name)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"musicgenre(\.[a-z_]+)+", node.value):
                found.add(node.value)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "musicgenre"}


def code_closure(script: Path, reads_model_params: bool) -> set[str]:
    """Every src/musicgenre file reachable by imports from `script`, relative to src/."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        current = todo.pop()
        for name in _imports(current):
            rel = current.relative_to(SRC).as_posix() if current.is_relative_to(SRC) else ""
            if (not reads_model_params and rel == MODEL_PARAMS_ONLY[0]
                    and name.startswith(MODEL_PARAMS_ONLY[1])):
                continue
            target = _module_file(name)
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    return {p.relative_to(SRC).as_posix() for p in seen}


def _stages():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    models = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    for name, stage in dvc["stages"].items():
        body = stage.get("do", stage)
        params = [p if isinstance(p, str) else next(iter(p)) for p in body.get("params", [])]
        reads_models = any(p in ("${item}", "model", *models) for p in params)
        yield name, body, reads_models


@pytest.mark.parametrize("name,stage,reads_models", list(_stages()),
                         ids=[s[0] for s in _stages()])
def test_stage_declares_all_the_code_it_imports(name, stage, reads_models):
    script = ROOT / next(t for t in stage["cmd"].split() if t.endswith(".py"))
    deps = [d for d in stage["deps"] if isinstance(d, str)]
    assert script.relative_to(ROOT).as_posix() in deps, f"{name}: its own script"
    missing = []
    for module in sorted(code_closure(script, reads_models) - PLUMBING):
        declared = any(f"src/{module}" == d or f"src/{module}".startswith(d.rstrip("/") + "/")
                       for d in deps)
        if not declared:
            missing.append(f"src/{module}")
    assert not missing, f"dvc.yaml stage '{name}' imports undeclared code: {missing}"


def test_the_closure_follows_imports_inside_functions():
    closure = code_closure(ROOT / "stages/train.py", reads_model_params=True)
    assert "musicgenre/features/store.py" in closure  # train uses store.normalize
    assert "musicgenre/models/cnn.py" in closure  # named in the registry
    split_only = code_closure(ROOT / "stages/split.py", reads_model_params=False)
    assert "musicgenre/models/cnn.py" not in split_only
