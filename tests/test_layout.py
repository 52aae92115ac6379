"""The package's layout keeps its promises: each module says its one job, data flows one way,
no module reaches into another's private names, and ``import segscope`` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "segscope"
MODULES = sorted(PACKAGE.rglob("*.py"))

#: layers from left to right; a module may import only from its own layer or those to its left
LAYERS = [
    {"_version", "_lazy", "_jit", "_numbers", "_progress", "_storage", "_yaml", "exceptions"},
    {"classes"},
    {"io"},
    {"metrics"},
    {"analysis", "schema"},
    {"engine"},
    {"stats", "synth", "convert", "check", "viz", "baseline", "torch", "conventions"},
    {"report"},
    {"run"},
    {"cli", "__main__", "__init__"},
]


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _layer(name: str) -> int:
    for i, layer in enumerate(LAYERS):
        if name in layer:
            return i
    raise AssertionError(f"segscope.{name} is in no layer of tests/test_layout.py")


def _imports(path: Path):
    """(imported top-level segscope module, imported names) for every relative import."""
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PACKAGE)
    pkg = list(rel.parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            if parts:
                yield parts, [a.name for a in node.names]
            else:
                for a in node.names:
                    yield [a.name], []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_says_its_job(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and len(doc.splitlines()[0]) > 15, f"{path.name}: a docstring whose first line says its one job"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_data_flows_one_way(path):
    here = _layer(_top(path))
    for parts, _names in _imports(path):
        there = _layer(parts[0])
        assert there <= here, f"{path.relative_to(PACKAGE)} imports segscope.{'.'.join(parts)} from a later layer"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_across_packages(path):
    """A private name may be shared inside its own subpackage, never across subpackages."""
    mine = _top(path)
    for parts, names in _imports(path):
        if parts[0] == mine or parts[0].startswith("_"):
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        private += [m for m in parts[1:] if m.startswith("_")]
        assert not private, f"{path.relative_to(PACKAGE)} imports private {private} from segscope.{'.'.join(parts)}"


def test_import_segscope_loads_neither_numba_nor_torch():
    code = "import sys, segscope; print(sorted(m for m in ('numba', 'torch', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
