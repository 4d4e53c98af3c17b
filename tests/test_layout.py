"""The package's layering (README, "Layout"): a module imports only from layers below its own, and
no two modules import each other, directly or through others. Imports inside functions count;
those under ``if TYPE_CHECKING:`` (never run) do not."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skillmimic"

# Bottom first. A unit is a subpackage or a top-level module; it may import units of lower layers.
LAYERS = [
    {"errors", "process"},
    {"skills", "rotations", "storage", "threads", "humanoid"},
    {"kinematics", "sim"},
    {"config", "motion"},
    {"graph"},
    {"envs"},
    {"policy"},
    {"tasks"},
    {"learning"},
    {"eval", "viewer", "io", "bench"},
    {"cli"},
    {"__main__"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules) -> set[str]:
    """Every ``skillmimic`` module ``path`` imports: ``from X import y`` is X.y where that is a module,
    else X (a package's ``__init__`` that its own submodules load on the way is not counted)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {  # ``if TYPE_CHECKING:`` imports never run: annotations may name any layer's types
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for a in node.names:
                out.add(f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module)
    return {m for m in out if m == "skillmimic" or m.startswith("skillmimic.")}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path, files) if m in files and m != name} for name, path in files.items()}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _graph()} - {None}
    assert units <= set(RANK), f"units without a layer in LAYERS: {sorted(units - set(RANK))}"


def test_no_module_imports_a_layer_above_or_beside_its_own():
    wrong = []
    for module, imported in _graph().items():
        for target in imported:
            a, b = _unit(module), _unit(target)
            if a is None or b is None or a == b:
                continue
            if RANK[b] >= RANK[a]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a module of ``sim`` importing ``learning`` is reported."""
    fake = tmp_path / "skillmimic"
    (fake / "sim").mkdir(parents=True)
    (fake / "learning").mkdir()
    (fake / "sim" / "base.py").write_text("def f():\n    from skillmimic.learning.train import train\n")
    (fake / "learning" / "train.py").write_text("from skillmimic.sim import base\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    graph = _graph()
    assert graph["skillmimic.sim.base"] == {"skillmimic.learning.train"}
    with pytest.raises(AssertionError, match="skillmimic.sim.base -> skillmimic.learning.train"):
        test_no_module_imports_a_layer_above_or_beside_its_own()
    with pytest.raises(AssertionError, match="import cycle"):
        test_no_import_cycle()
